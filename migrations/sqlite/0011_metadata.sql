-- IMAP METADATA (RFC 5464): annotations of an account's mailboxes, and of the server as
-- the account sees it (`mailbox_id` NULL). Entry names are stored lower-case (they
-- compare without case); values are octets. Mirrored as `metadata_set` changes.
CREATE TABLE metadata (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    mailbox_id INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
    entry      TEXT    NOT NULL,
    value      BLOB    NOT NULL
) STRICT;
CREATE UNIQUE INDEX metadata_key ON metadata (account_id, coalesce(mailbox_id, 0), entry);
