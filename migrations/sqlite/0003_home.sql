-- An account's home twin, when the admin chose one; NULL spreads accounts over both
-- twins by their GUID.
ALTER TABLE accounts ADD COLUMN home TEXT;
