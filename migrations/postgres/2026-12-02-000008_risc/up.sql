-- Cross-Account Protection (RISC): the security events received (by jti and event type — a
-- token may carry several events — so a replay is acknowledged and not acted on twice), a block set by the provider (account-disabled for
-- hijacking; account-enabled lifts only such a block), the credential-change flag, and the
-- identifiers Google's token-revoked event names a refresh token by, so it is matched without
-- decrypting every row.
CREATE TABLE risc_events (
    jti TEXT NOT NULL,
    event_type TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    reason TEXT,
    action TEXT NOT NULL,
    PRIMARY KEY (jti, event_type)
);
CREATE INDEX risc_events_user ON risc_events (user_id, received_at);
ALTER TABLE users ADD COLUMN blocked_by_provider BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN credential_change_required_at TIMESTAMP;
ALTER TABLE credentials ADD COLUMN refresh_token_hash TEXT;
ALTER TABLE credentials ADD COLUMN refresh_token_prefix_hash TEXT;
CREATE INDEX credentials_refresh_token_hash ON credentials (refresh_token_hash);
CREATE INDEX credentials_refresh_token_prefix_hash ON credentials (refresh_token_prefix_hash);
