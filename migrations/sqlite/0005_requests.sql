-- Writes done, by request id, with their outcome (JSON): a command sent again (after a
-- reconnect, or a client's retry of the same delivery) returns the first outcome instead
-- of acting twice. Written in the same transaction as the write; trimmed after days.
CREATE TABLE requests (
    id BLOB PRIMARY KEY,
    outcome TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX requests_created_at ON requests (created_at);
