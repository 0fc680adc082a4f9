-- The admin dashboard: why a credential's refresh last failed, the provider's answer in the
-- audit log, and indexes for the user list (keyset by last seen, filters) at 100k users.
ALTER TABLE credentials ADD COLUMN last_error TEXT;
ALTER TABLE credentials ADD COLUMN last_error_at TIMESTAMP;
ALTER TABLE audit_log ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
CREATE INDEX users_last_seen ON users (last_seen_at DESC, id DESC);
CREATE INDEX users_blocked ON users (disabled_at) WHERE disabled_at IS NOT NULL;
CREATE INDEX credentials_status ON credentials (status, user_id);
CREATE INDEX credentials_failing ON credentials (last_error_at) WHERE last_error_at IS NOT NULL;
CREATE INDEX audit_log_target ON audit_log (target_user_id, id);
-- ADMIN_EMAILS is read at every request from now on; is_admin keeps only the grants made with
-- `offline-access admin grant`.
UPDATE users SET is_admin = FALSE;
