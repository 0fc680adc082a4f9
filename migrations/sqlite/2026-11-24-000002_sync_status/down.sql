DROP TABLE sync_status;
