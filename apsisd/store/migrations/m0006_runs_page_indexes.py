"""Indexes for the runs page (issue 16): every filter it offers, by id and by schedule time, fast with a million
runs. Each holds the row id last, so (x, schedule_time) lists x's runs latest due first, ties by id, with no sort;
apsisd/store/query.py says how a query picks the one that leads (the others are checked on its rows).

- runs_job_time (job_id, schedule_time): a job's runs by time (runs_job has them by id), and a folder's or a
  label's by time, found by job and sorted from this index alone (their ids first, then the rows).
- runs_state_time (state, schedule_time): the runs in a state by time (runs_state has them by id); and with a
  time range in either order: the range within each state, not every run of the state.
- runs_host (host, schedule_time): the runs of a host. A host holds every run or a few; walking all runs for those
  of a rare host reads the whole table. By time it is the order; by id its ids are sorted, from the index alone.
- runs_origin (origin, schedule_time): the runs of an origin other than `schedule` (ad hoc, reruns, retries: a
  few), as runs_host.

Four indexes more on a table written at every transition: each costs about as much as the row's own write.
Filters that are most of the history (success, schedule, local) need none: the runs in order hold them densely.
"""

SQL = """
DROP INDEX runs_schedule_time;
CREATE INDEX runs_schedule_time ON runs (schedule_time, id, job_id, state, origin, host);
CREATE INDEX runs_job_time ON runs (job_id, schedule_time, id, state, origin, host);
CREATE INDEX runs_state_time ON runs (state, schedule_time, id, job_id, origin, host);
CREATE INDEX runs_host ON runs (host, schedule_time, id, job_id, state, origin);
CREATE INDEX runs_origin ON runs (origin, schedule_time, id, job_id, state, host);
"""
