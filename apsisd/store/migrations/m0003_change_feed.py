"""The change feed: every write of a run gets a sequence number, so a client of the live stream resumes after a
reconnect, or after apsisd restarted, with exactly the runs changed since (and the future runs withdrawn since,
kept as tombstones); and an index on `updated`, for runs listed by their last change.

Rows written before this version have seq 0: older than any position a client can hold.
"""

SQL = """
ALTER TABLE runs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_seq ON runs (seq);
CREATE INDEX runs_updated ON runs (updated);
CREATE TABLE run_tombstones (
    seq INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('next_seq', 1);
"""
