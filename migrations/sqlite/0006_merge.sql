-- The split-brain merge (issue 13).

-- Tombstones keyed by message GUID: one per expunged message, whatever else once held its
-- UID. Keyed by (mailbox, UID) as before, a second message at an expunged UID (a twin's
-- split-time message) could not leave its own tombstone and came back later.
-- `at` is when (Unix seconds): tombstones are kept for a configured period, then expired.
CREATE TABLE expunged_new (
    guid       BLOB    PRIMARY KEY,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    at         INTEGER NOT NULL DEFAULT (unixepoch())
) STRICT;
INSERT INTO expunged_new (guid, mailbox_id, uid, modseq)
    SELECT guid, mailbox_id, uid, max(modseq) FROM expunged GROUP BY guid;
DROP TABLE expunged;
ALTER TABLE expunged_new RENAME TO expunged;
CREATE INDEX expunged_by_modseq ON expunged (mailbox_id, modseq);
CREATE INDEX expunged_by_uid ON expunged (mailbox_id, uid);

-- A twin's message whose UID this twin had already given to another message (both took
-- mail while split): held back, bytes stored, until the account's home twin gives it a
-- fresh UID above both twins' UIDNEXT (a `message_renumbered` change). On the home twin
-- the merge takes these rows; on the other twin the home's renumber releases them.
CREATE TABLE held (
    guid          BLOB    PRIMARY KEY,
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    blob          BLOB    NOT NULL REFERENCES blobs(hash),
    size          INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    flags         TEXT    NOT NULL,
    modseq        INTEGER NOT NULL,
    gone          INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX held_by_mailbox ON held (mailbox_id);

-- Mailboxes of accounts homed here that took split-time changes from the twin: the merge
-- re-emits every message change above `fork_modseq` at a MODSEQ above both twins'
-- HIGHESTMODSEQ, so that CONDSTORE/QRESYNC clients of either twin see them, and, when
-- `folder` is set (renamed or (un)subscribed by the twin), the folder's name and
-- subscription as they stand here, which both twins then keep.
CREATE TABLE merge_pending (
    mailbox_id  INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    fork_modseq INTEGER NOT NULL,
    folder      INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The highest MODSEQ of a tombstone expired in this mailbox: a QRESYNC client that knows
-- less is told every UID not present as vanished, since the tombstones cannot tell.
ALTER TABLE mailboxes ADD COLUMN vanished_before INTEGER NOT NULL DEFAULT 0;

-- Message bytes no message, held message or unsent log entry referenced at `since`: removed
-- an hour later if still unreferenced (a snapshot or a twin's want list in flight in
-- between finds them).
CREATE TABLE blob_orphans (
    hash  BLOB    PRIMARY KEY,
    since INTEGER NOT NULL
) STRICT;
