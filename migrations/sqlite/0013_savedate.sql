-- SAVEDATE (RFC 8514): when a message was saved into its current mailbox (delivery,
-- APPEND, COPY, MOVE), as Unix seconds. The account's home twin sets it when it adds the
-- message and mirrors it with the message, so both twins answer alike. NULL for messages
-- stored before this column existed: those read as their INTERNALDATE (RFC 8514 §3 lets
-- a server that cannot know the save date give a reasonable one).
ALTER TABLE messages ADD COLUMN saved INTEGER;
-- Messages the merge after a split holds aside keep theirs.
ALTER TABLE held ADD COLUMN saved INTEGER;
