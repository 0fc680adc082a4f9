-- The admin list's search at 100k users: trigram indexes (pg_trgm, a trusted extension shipped
-- with PostgreSQL) on the lowercased email and name, which the list's
-- `lower(email) LIKE '%part%'` uses as it is. Where the extension cannot be installed or the
-- indexes cannot be built, the migration still applies and the search reads every user.
DO $$
DECLARE
    trgm_schema name;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm is not available (%): the admin search will read every user', SQLERRM;
    END;
    -- The operator class lives in the extension's schema, on the search path or not.
    SELECT n.nspname INTO trgm_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        BEGIN
            EXECUTE format('CREATE INDEX users_email_trgm ON users USING gin (lower(email) %I.gin_trgm_ops)', trgm_schema);
            EXECUTE format('CREATE INDEX users_name_trgm ON users USING gin (lower(name) %I.gin_trgm_ops)', trgm_schema);
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'trigram indexes not built (%): the admin search will read every user', SQLERRM;
        END;
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
