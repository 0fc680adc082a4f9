DROP INDEX sessions_user_expires;
CREATE INDEX sessions_user_id ON sessions (user_id);
DROP INDEX credentials_failing;
CREATE INDEX credentials_failing ON credentials (last_error_at) WHERE last_error_at IS NOT NULL;
DROP INDEX IF EXISTS users_name_trgm;
DROP INDEX IF EXISTS users_email_trgm;
