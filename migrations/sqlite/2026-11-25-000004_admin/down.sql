DROP INDEX audit_log_target;
DROP INDEX credentials_failing;
DROP INDEX credentials_status;
DROP INDEX users_blocked;
DROP INDEX users_last_seen;
ALTER TABLE audit_log DROP COLUMN outcome;
ALTER TABLE credentials DROP COLUMN last_error_at;
ALTER TABLE credentials DROP COLUMN last_error;
