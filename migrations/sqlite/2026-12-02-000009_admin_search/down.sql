DROP INDEX sessions_user_expires;
CREATE INDEX sessions_user_id ON sessions (user_id);
DROP INDEX credentials_failing;
CREATE INDEX credentials_failing ON credentials (last_error_at) WHERE last_error_at IS NOT NULL;
DROP TRIGGER users_search_update;
DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_insert;
DROP TABLE users_search;
