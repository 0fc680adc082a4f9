-- Users are keyed by (issuer, sub): two providers can never map to one user. SQLite cannot drop
-- the old UNIQUE (google_sub), so the table is rebuilt; legacy_alter_table keeps the other
-- tables' REFERENCES users(id) naming "users" across the rename, so they follow the new table
-- and dropping the old one cascades nothing. Rows from before carry issuer '' until their
-- next sign-in records it.
PRAGMA legacy_alter_table = ON;
ALTER TABLE users RENAME TO users_before_issuer;
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    google_sub TEXT NOT NULL,
    email TEXT NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT 0,
    name TEXT NOT NULL DEFAULT '',
    picture TEXT,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP,
    issuer TEXT NOT NULL DEFAULT ''
);
INSERT INTO users (id, google_sub, email, email_verified, name, picture, is_admin, created_at, last_seen_at, disabled_at, issuer)
    SELECT id, google_sub, email, email_verified, name, picture, is_admin, created_at, last_seen_at, disabled_at, ''
    FROM users_before_issuer;
DROP TABLE users_before_issuer;
PRAGMA legacy_alter_table = OFF;
CREATE UNIQUE INDEX users_issuer_sub ON users (issuer, google_sub);
CREATE INDEX users_last_seen ON users (last_seen_at DESC, id DESC);
CREATE INDEX users_blocked ON users (disabled_at) WHERE disabled_at IS NOT NULL;
