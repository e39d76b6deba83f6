"""The runs page (issue 16): every filter it offers, by id and by schedule time, fast with a million runs.

apsisd/store/query.py says how a query uses them: it walks the runs in its
order first (a common filter fills its page there), and only then lets one
filter lead through that filter's index. Each index below holds
(schedule_time, id) after its leading column, so it lists that column's runs
latest due first, ties by id, with no sort (in time order the page is a
range of it); and the other filter columns after them, so the other filters
are checked in the index and the ids found (then sorted, by id) without
reading a row: only the page's rows are read.

- runs_job_time (job_id, ...): a job's runs by time (runs_job has them by
  id); a folder's or a label's, in either order, found job by job.
- runs_state_time (state, ...): the runs in a state other than success (a
  few percent) in either order, and any state within a time range.
- runs_host (host, ...): the runs of a host. A host may hold every run or a
  handful, and walking the runs for the runs of a rare one reads the table.
- runs_origin (origin, ...): the runs of an origin other than `schedule`
  (ad hoc, reruns, retries: a few), as runs_host.
- runs_schedule_time, made again as (schedule_time, id, ...): the walk in
  time order checks the filters in it, and a time range is a range of it.
- run_args, a run's args one row each, and run_args_value (name, value, due,
  run, job): the runs having an arg (date=2026-11-26, across every job)
  without json_each over every run (seconds for a million), latest due
  first with no sort, a folder's or label's checked in the index. sqlite.py
  writes it with the run, in the same transaction; a run's args, time and
  job do not change, so writing a run again writes nothing here; it goes
  with its run (ON DELETE CASCADE, through its primary key).

Filters that are most of the history (success, schedule, local) need no index:
the runs in order hold them densely. The price is paid at each write of a
run: rewriting one (a transition) on a store of 200,000 runs, without the
fsync, went from 5,700 a second to 4,100 (docs/web.md).
"""

SQL = """
DROP INDEX runs_schedule_time;
CREATE INDEX runs_schedule_time ON runs (schedule_time, id, job_id, state, origin, host);
CREATE INDEX runs_job_time ON runs (job_id, schedule_time, id, state, origin, host);
CREATE INDEX runs_state_time ON runs (state, schedule_time, id, job_id, origin, host);
CREATE INDEX runs_host ON runs (host, schedule_time, id, job_id, state, origin);
CREATE INDEX runs_origin ON runs (origin, schedule_time, id, job_id, state, host);
CREATE TABLE run_args (
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    due INTEGER NOT NULL,
    job TEXT NOT NULL,
    PRIMARY KEY (run, name)
) WITHOUT ROWID;
INSERT INTO run_args (run, name, value, due, job) SELECT runs.id, arg.key, arg.value, runs.schedule_time, runs.job_id
    FROM runs, json_each(runs.args) AS arg;
CREATE INDEX run_args_value ON run_args (name, value, due, run, job);
"""
