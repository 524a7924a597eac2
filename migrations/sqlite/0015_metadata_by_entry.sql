-- Shared mailboxes (IMAP ACL): a grant is the owner's mailbox annotation named after the
-- grantee, and every LIST looks up the grants naming the user (`mailboxes_annotated`);
-- without this index that is a scan of every account's annotations.
CREATE INDEX metadata_by_entry ON metadata (entry);
