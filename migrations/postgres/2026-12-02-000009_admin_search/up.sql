-- The admin list's search at 100k users: trigram indexes (pg_trgm, a trusted extension shipped
-- with PostgreSQL) on the lowercased email and name, which the list's
-- `lower(email) LIKE '%part%'` uses as it is. Where the extension cannot be installed, the
-- migration still applies and the search reads every user, as before.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): the admin search will read every user', SQLERRM;
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX users_email_trgm ON users USING gin (lower(email) gin_trgm_ops);
        CREATE INDEX users_name_trgm ON users USING gin (lower(name) gin_trgm_ops);
    END IF;
END
$$;
-- The "refresh failing" filter and count read (status, user) among the few failing credentials.
DROP INDEX credentials_failing;
CREATE INDEX credentials_failing ON credentials (status, user_id) WHERE last_error_at IS NOT NULL;
-- A user's live sessions (the list's column, a user's detail) counted from the index alone: a
-- user signed in from many devices no longer costs a table read per session.
DROP INDEX sessions_user_id;
CREATE INDEX sessions_user_expires ON sessions (user_id, expires_at);
