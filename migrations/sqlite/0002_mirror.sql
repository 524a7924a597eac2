-- The mirror's bookkeeping.

-- Which incarnation of each origin's database the applied position refers to: a twin that
-- was rebuilt from scratch starts a new log, and must be brought level by a snapshot.
ALTER TABLE applied ADD COLUMN incarnation TEXT NOT NULL DEFAULT '';

-- Counters shown by `twinmail mirror status` (sent/received adds, deletes, renames, ...),
-- kept here so they survive restarts.
CREATE TABLE mirror_counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

-- The mirror's state: acknowledged position, link state, last error.
CREATE TABLE mirror_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
