-- Folders and accounts made under one name on both twins while apart are folded into
-- one (issue 13).

-- The name a folder was created with (renames leave it): two folders that both still
-- carry the name they were created under, on different twins, are the same folder made
-- twice (INBOX and Sent of an account created on both sides, or "Work" made by a user on
-- each) and are folded into one; a folder renamed onto another's name is not (it gets a
-- suffix, as before). Both twins see the same two values, so both decide alike.
ALTER TABLE mailboxes ADD COLUMN created_name TEXT;
UPDATE mailboxes SET created_name = name;

-- GUIDs of accounts and folders folded into another: the twin's changes that name one
-- are applied to what it was folded into. `into_guid` is always the survivor (a chain is
-- shortened when it grows).
CREATE TABLE folded (
    guid      BLOB PRIMARY KEY,
    into_guid BLOB NOT NULL
) STRICT;

-- For a folder made on this twin: the sequence number of its `mailbox_created` in this
-- twin's log. A twin's folder of the same created name whose maker had not applied that
-- entry yet (the change says how far it had) was made concurrently, while apart.
ALTER TABLE mailboxes ADD COLUMN made_seq INTEGER;

-- Folders made here (made_seq set) and since deleted, not yet paired with a twin's
-- folder: a twin's folder of the same name made concurrently pairs with the earliest
-- unpaired one, live or gone, so that both twins pair the same two folders whatever
-- else happened in between (a folder paired with a gone one is gone too).
CREATE TABLE made_gone (
    guid         BLOB    PRIMARY KEY,
    account_id   INTEGER NOT NULL,
    created_name TEXT    NOT NULL,
    made_seq     INTEGER NOT NULL
) STRICT;
CREATE TRIGGER mailbox_made_gone AFTER DELETE ON mailboxes
WHEN old.made_seq IS NOT NULL
BEGIN
    INSERT INTO made_gone (guid, account_id, created_name, made_seq)
    VALUES (old.guid, old.account_id, old.created_name, old.made_seq)
    ON CONFLICT (guid) DO NOTHING;
END;
