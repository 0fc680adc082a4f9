ALTER TABLE credentials DROP COLUMN refresh_lease_owner;
ALTER TABLE credentials DROP COLUMN refresh_lease_until;
