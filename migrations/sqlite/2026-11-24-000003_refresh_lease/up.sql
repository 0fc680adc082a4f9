ALTER TABLE credentials ADD COLUMN refresh_lease_until TIMESTAMP;
ALTER TABLE credentials ADD COLUMN refresh_lease_owner TEXT;
