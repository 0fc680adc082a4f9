DROP TABLE sign_in_claims;
