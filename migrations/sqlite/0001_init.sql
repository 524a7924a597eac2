-- twinmail store, SQLite schema. GUIDs are 16-byte BLOBs, blob hashes 32-byte SHA-256.

-- Facts about this node: its id, the last UIDVALIDITY handed out.
CREATE TABLE node (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE domains (
    name TEXT PRIMARY KEY
) STRICT;

-- AUTOINCREMENT: a deleted account's id is never handed to a new one, so a session that
-- still holds the old id cannot reach the new account's mail.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guid          BLOB    NOT NULL UNIQUE,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) STRICT;

-- address is 'local@domain', or '@domain' for a catch-all; target is an account name.
CREATE TABLE aliases (
    address TEXT NOT NULL,
    target  TEXT NOT NULL,
    PRIMARY KEY (address, target)
) STRICT;

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    guid          BLOB    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    role          TEXT,
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER NOT NULL,
    highestmodseq INTEGER NOT NULL,
    subscribed    INTEGER NOT NULL,
    UNIQUE (account_id, name)
) STRICT;

-- Immutable message bytes, addressed by content: one row however many copies exist.
CREATE TABLE blobs (
    hash BLOB    PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB    NOT NULL
) STRICT;

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    guid          BLOB    NOT NULL UNIQUE,
    blob          BLOB    NOT NULL REFERENCES blobs(hash),
    size          INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    flags         TEXT    NOT NULL,
    modseq        INTEGER NOT NULL,
    UNIQUE (mailbox_id, uid)
) STRICT;
CREATE INDEX messages_by_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_by_blob ON messages (blob);

-- Tombstones: what was expunged, when (by MODSEQ). QRESYNC's VANISHED reads them, and the
-- mirror uses the GUIDs so that an expunged message never comes back.
CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    guid       BLOB    NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) STRICT;
CREATE INDEX expunged_by_modseq ON expunged (mailbox_id, modseq);
CREATE INDEX expunged_by_guid ON expunged (guid);

-- The change log: every local mutation, in commit order. AUTOINCREMENT so that a sequence
-- number is never reused after the log is trimmed.
CREATE TABLE changelog (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    origin     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Highest sequence number applied from each twin, written in the same transaction as the
-- applied change: the receiver's exactly-once guarantee.
CREATE TABLE applied (
    origin TEXT    PRIMARY KEY,
    seq    INTEGER NOT NULL
) STRICT;
