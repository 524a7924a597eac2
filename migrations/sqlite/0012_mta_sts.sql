-- MTA-STS policies (RFC 8461) this twin fetched, by policy domain: kept across restarts
-- so that a domain whose policy host is unreachable (or whose DNS is being tampered
-- with) still gets its policy enforced until it expires (RFC 8461 §5.1). Each twin
-- fetches its own: not mirrored.
CREATE TABLE mta_sts (
    domain     TEXT    PRIMARY KEY,
    id         TEXT    NOT NULL,
    policy     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
