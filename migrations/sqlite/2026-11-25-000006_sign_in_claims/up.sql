-- The authorization responses already redeemed: a callback claims its state here before the
-- code is exchanged, so the same response arriving twice (in parallel, on any instance) is
-- exchanged once. A row lives as long as the pending sign-in cookie it belongs to.
CREATE TABLE sign_in_claims (
    state_hash TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sign_in_claims_expires_at ON sign_in_claims (expires_at);
