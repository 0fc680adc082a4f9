ALTER TABLE sync_status DROP COLUMN gmail_messages;
