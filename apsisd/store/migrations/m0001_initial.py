"""The first schema: runs as relational columns, their logs, the jobs' scheduling cursors, and meta.

Times are integer microseconds since the epoch (UTC); args canonical JSON
(sorted keys), so one run's args equal another's exactly when their texts
do; `times` is JSON {state: microseconds}; `spec` the RunSpec as JSON. An
index holds its table's row id implicitly, so (job_id) ... ORDER BY id needs
no sort. meta holds `next_run`: no run number below it is ever given again.
"""

SQL = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL,
    schedule_time INTEGER NOT NULL,
    times TEXT NOT NULL,
    origin TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    previous INTEGER,
    reason TEXT NOT NULL,
    stop_time INTEGER,
    spec TEXT,
    unit TEXT,
    invocation_id TEXT,
    exit_code INTEGER,
    signal TEXT,
    result TEXT,
    cpu_time_ns INTEGER,
    memory_peak INTEGER,
    lateness REAL,
    updated INTEGER NOT NULL
);
-- A job's runs, newest first.
CREATE INDEX runs_job ON runs (job_id, id);
-- A job's runs with exactly these args (dependencies, rerun history).
CREATE INDEX runs_instance ON runs (job_id, args, id);
-- Runs in a state, newest first, across jobs.
CREATE INDEX runs_state ON runs (state, id);
CREATE INDEX runs_schedule_time ON runs (schedule_time);
-- What a restarting apsisd takes up: small, whatever the history's size.
CREATE INDEX runs_unfinished ON runs (id) WHERE state NOT IN ('success', 'failure', 'error', 'skipped');

CREATE TABLE run_log (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    time INTEGER NOT NULL,
    state TEXT,
    message TEXT NOT NULL
);
CREATE INDEX run_log_run ON run_log (run_id);

CREATE TABLE cursors (
    job_id TEXT PRIMARY KEY,
    time INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('next_run', 1);
"""
