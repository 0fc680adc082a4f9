DROP INDEX users_issuer_sub;
ALTER TABLE users ADD CONSTRAINT users_google_sub_key UNIQUE (google_sub);
ALTER TABLE users DROP COLUMN issuer;
