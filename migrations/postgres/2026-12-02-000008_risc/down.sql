DROP INDEX credentials_refresh_token_prefix_hash;
DROP INDEX credentials_refresh_token_hash;
ALTER TABLE credentials DROP COLUMN refresh_token_prefix_hash;
ALTER TABLE credentials DROP COLUMN refresh_token_hash;
ALTER TABLE users DROP COLUMN credential_change_required_at;
ALTER TABLE users DROP COLUMN blocked_by_provider;
DROP TABLE risc_events;
