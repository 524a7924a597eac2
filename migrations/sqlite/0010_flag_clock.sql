-- When each flag of a message last changed, by a hybrid logical clock (milliseconds,
-- never behind any clock seen from the twin), and on which node: the home twin's merge of
-- a split orders the two twins' changes of one flag by it (the later wins; on a tie, the
-- greater node id). Rows of messages gone are removed by the hourly housekeeping.
CREATE TABLE flag_clock (
    guid BLOB    NOT NULL,
    flag TEXT    NOT NULL,
    at   INTEGER NOT NULL,
    node TEXT    NOT NULL,
    PRIMARY KEY (guid, flag)
) STRICT, WITHOUT ROWID;
