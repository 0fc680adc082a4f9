ALTER TABLE credentials ADD COLUMN refresh_lease_until TIMESTAMP;
