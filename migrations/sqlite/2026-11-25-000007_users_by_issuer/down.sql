DROP INDEX users_issuer_sub;
CREATE UNIQUE INDEX users_google_sub ON users (google_sub);
