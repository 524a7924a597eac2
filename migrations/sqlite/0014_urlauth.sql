-- URLAUTH (RFC 4467): one mailbox access key per mailbox (a mailbox belongs to one
-- account, so this is one per account and mailbox), made by the first GENURLAUTH for it
-- and replaced by RESETKEY. The key signs the URLs the account hands out; it is a secret
-- and must be the same on both twins (a URL made on one twin is fetched on the other),
-- so it is made at the account's home twin and mirrored as `access_key_set` changes.
-- `made` is its maker's clock in Unix milliseconds: of two keys made for one mailbox on
-- both twins while apart, the later (then the larger key) wins on both.
CREATE TABLE access_keys (
    mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    key        BLOB    NOT NULL,
    made       INTEGER NOT NULL
) STRICT;
