-- The admin list's search at 100k users: a trigram index over email and name (FTS5, external
-- content: it stores only the index and reads the text from users), so a search for a part of
-- an address reads the matching rows instead of every user. Triggers keep it in step with
-- users; a sign-in that leaves the email and name as they were does not touch it. A later
-- migration that rebuilds users (as 000007 did) drops these triggers with the old table: it
-- must create them again and run the 'rebuild' below.
CREATE VIRTUAL TABLE users_search USING fts5(
    email, name, content = 'users', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO users_search (users_search) VALUES ('rebuild');
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, email, name) VALUES (new.id, new.email, new.name);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, email, name)
        VALUES ('delete', old.id, old.email, old.name);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF email, name ON users
    WHEN old.email IS NOT new.email OR old.name IS NOT new.name BEGIN
    INSERT INTO users_search (users_search, rowid, email, name)
        VALUES ('delete', old.id, old.email, old.name);
    INSERT INTO users_search (rowid, email, name) VALUES (new.id, new.email, new.name);
END;
-- The "refresh failing" filter and count read (status, user) among the few failing credentials.
DROP INDEX credentials_failing;
CREATE INDEX credentials_failing ON credentials (status, user_id) WHERE last_error_at IS NOT NULL;
-- A user's live sessions (the list's column, a user's detail) counted from the index alone: a
-- user signed in from many devices no longer costs a table read per session.
DROP INDEX sessions_user_id;
CREATE INDEX sessions_user_expires ON sessions (user_id, expires_at);
