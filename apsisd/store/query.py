"""A RunQuery as one SELECT over the runs table, shaped for the indexes of the schema.

Every filter is a bound parameter, never text pasted into the SQL. A job's
runs come through (job_id, id) in id order with no sort; exact args through
(job_id, args, id); a state through (state, id); the args that must merely
be present are matched with json_each, which is safe for any key (a JSON
path in json_extract is not: it cannot quote every character). A set of
jobs (the jobs of a label: thousands, maybe) is one JSON array parameter,
never one parameter per job (SQLite caps their number): the planner probes
(job_id, id) for each and sorts what it finds, or, with states, walks
(state, id) and keeps the runs of those jobs (what is running in a team's
jobs is a short walk). The last change is the `updated` column.

A time bound alone on one side (since, changed_since) is left to the
planner, which walks the runs newest first: a full walk when fewer runs than
the limit match (0.25 s for a million runs), where the time's index would
find them at once; but its index is a sort of every run it finds, and a
bound far back finds them all (1.5 s). Bounded on both sides, the planner
takes the index (and sorts what it finds).
"""
from __future__ import annotations

import json
from typing import Any

from apsisd.store.base import RunQuery
from apsisd.store.codec import READ_COLUMNS, encode_args, encode_id, encode_time

SELECT_RUNS = f"SELECT {', '.join(READ_COLUMNS)} FROM runs"
_ARG_PRESENT = "EXISTS (SELECT 1 FROM json_each(runs.args) WHERE key = ? AND value = ?)"
_ONE_OF_JOBS = "job_id IN (SELECT value FROM json_each(?))"
# The page after run `before` in time order: (schedule_time, id) below that run's (none, when there is no such run).
_AFTER_IN_TIME = "(schedule_time, id) < (SELECT schedule_time, id FROM runs WHERE id = ?)"
# RunQuery's time bounds: its field, and what it asks of a row.
_TIME_BOUNDS = (("since", "schedule_time >= ?"), ("until", "schedule_time < ?"), ("changed_since", "updated >= ?"),
                ("changed_until", "updated < ?"))


def runs_sql(query: RunQuery) -> tuple[str, list[Any]] | None:
    """The SQL and its parameters; None when the query cannot match a run (an empty set of states or jobs)."""
    where: list[str] = []
    params: list[Any] = []
    if query.job_id is not None:
        where.append("job_id = ?")
        params.append(query.job_id)
    if query.job_prefix is not None:
        _prefix(query.job_prefix, where, params)
    if query.job_ids is not None:
        if not query.job_ids:
            return None
        where.append(_ONE_OF_JOBS)
        params.append(json.dumps(sorted(query.job_ids)))
    if query.args is not None and query.exact_args:
        where.append("args = ?")
        params.append(encode_args(query.args))
    elif query.args:
        for key, value in sorted(query.args.items()):
            where.append(_ARG_PRESENT)
            params.extend((key, value))
    if query.states is not None:
        if not query.states:
            return None
        # With a job, its own index is the way in: '+state' keeps the planner off the state index (a state of
        # every job's runs), which it would otherwise take as often as not, and scan thousands of rows for three.
        column = "+state" if query.job_id is not None else "state"
        where.append(f"{column} IN ({', '.join('?' * len(query.states))})")
        params.extend(sorted(str(state) for state in query.states))
    for column, values in (("host", query.hosts), ("origin", query.origins)):
        if values is not None:
            if not values:
                return None
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(sorted(str(value) for value in values))
    for name, condition in _TIME_BOUNDS:
        bound = getattr(query, name)
        if bound is not None:
            where.append(condition)
            params.append(encode_time(bound, f"the query's {name}"))
    if query.before is not None:
        where.append(_AFTER_IN_TIME if query.order == "time" else "id < ?")
        params.append(encode_id(query.before))
    order = "schedule_time DESC, id DESC" if query.order == "time" else "id DESC"
    sql = SELECT_RUNS + (f" WHERE {' AND '.join(where)}" if where else "") + f" ORDER BY {order} LIMIT ?"
    params.append(max(query.limit, 0))
    return sql, params


def _prefix(prefix: str, where: list[str], params: list[Any]) -> None:
    """Jobs under the folder `prefix` (and the job of that name too, unless it ends in '/')."""
    folder = prefix.rstrip("/")
    if not folder:
        return
    # Every id under folder/ sorts in [folder/, folder0): '0' is the character after '/'.
    under = "(job_id >= ? AND job_id < ?)"
    if prefix.endswith("/"):
        where.append(under)
        params.extend((folder + "/", folder + "0"))
    else:
        where.append(f"(job_id = ? OR {under})")
        params.extend((folder, folder + "/", folder + "0"))
