-- Users are keyed by (issuer, sub): two providers can never map to one user. Rows from before
-- carry issuer '' until their next sign-in records it.
ALTER TABLE users ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE users DROP CONSTRAINT users_google_sub_key;
CREATE UNIQUE INDEX users_issuer_sub ON users (issuer, google_sub);
