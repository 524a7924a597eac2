-- The outbound queue (issue 15): mail a user submitted for other domains, DSNs and
-- forwards, waiting for delivery. Mirrored like mail: each row and every attempt's
-- outcome is a logged change, so the twin can take the queue over.

-- One queued message. `owner` is the twin that delivers it (the one that accepted it,
-- or the one that took it over after its owner was gone longer than the lease).
CREATE TABLE queue (
    id             BLOB    PRIMARY KEY,
    owner          TEXT    NOT NULL,
    sender         TEXT    NOT NULL,
    blob           BLOB    NOT NULL REFERENCES blobs(hash),
    size           INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    next_attempt   INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    held           INTEGER NOT NULL DEFAULT 0,
    delay_notified INTEGER NOT NULL DEFAULT 0,
    last_reply     TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX queue_due ON queue (next_attempt);

-- Its recipients: `pending` until delivered or failed for good. A recipient the owner
-- recorded as delivered is never sent again by either twin.
CREATE TABLE queue_rcpts (
    queue_id BLOB    NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    rcpt     TEXT    NOT NULL,
    state    TEXT    NOT NULL DEFAULT 'pending',
    reply    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (queue_id, rcpt)
) STRICT;

-- DKIM signing keys, per domain and selector (PKCS#8 DER): both twins sign alike.
CREATE TABLE dkim_keys (
    domain      TEXT    NOT NULL,
    selector    TEXT    NOT NULL,
    algorithm   TEXT    NOT NULL,
    private_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (domain, selector)
) STRICT;
