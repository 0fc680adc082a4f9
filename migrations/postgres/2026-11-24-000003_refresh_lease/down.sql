ALTER TABLE credentials DROP COLUMN refresh_lease_until;
