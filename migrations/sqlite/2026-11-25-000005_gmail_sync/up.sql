-- What sync found in Gmail (NULL: Gmail not granted).
ALTER TABLE sync_status ADD COLUMN gmail_messages BIGINT;
