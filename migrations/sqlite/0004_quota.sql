-- An account's storage limit in bytes (the sum of its messages' sizes); NULL is no limit.
ALTER TABLE accounts ADD COLUMN quota_bytes INTEGER;
