CREATE TABLE sync_status (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    synced_at TIMESTAMP NOT NULL,
    drive_files BIGINT,
    newest TEXT NOT NULL DEFAULT '',
    error TEXT
);
