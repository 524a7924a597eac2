-- Sieve (issue 16): each account's scripts, at most one active, and the vacation
-- replies sent (so neither twin replies twice to one sender within the days asked).
-- Both mirror like mail.
CREATE TABLE sieve_scripts (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    script     TEXT    NOT NULL,
    active     INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT;

CREATE TABLE sieve_vacation (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    handle     TEXT    NOT NULL,
    sender     TEXT    NOT NULL,
    until      INTEGER NOT NULL,
    PRIMARY KEY (account_id, handle, sender)
) STRICT;
