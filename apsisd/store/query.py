"""A RunQuery as SELECTs over the runs table, shaped for the indexes of the schema.

Every filter is a bound parameter, never text pasted into the SQL. The args
that must merely be present are matched with json_each, which is safe for
any key (a JSON path in json_extract is not: it cannot quote every
character), or found in run_args. A set of jobs (the jobs of a label:
thousands, maybe) is one JSON array parameter, never one parameter per job
(SQLite caps their number). The last change is the `updated` column.

No ANALYZE statistics are kept, so the planner cannot know that `state =
'success'` is most of the history and `state = 'running'` a handful; left
to itself it takes an index for either, and sorts a million rows for the
first. So the plan is ours, in two steps (sqlite.select_runs runs them):

1. The walk: the runs in the order asked for (by id: the table itself, NOT
   INDEXED; by time: runs_schedule_time, which holds the filter columns),
   every filter checked on each, over at most WALK rows from the page's
   start (`edge` finds the last, from an index alone). A common filter (the
   successes, the runs on `local`, a label of many jobs) fills its page
   there, in a few milliseconds whatever the history's size; and when fewer
   than WALK runs are left, the walk is the whole answer.
2. Otherwise the matches are rare near the page's start, and one filter
   drives (`_driver`: the most selective first, by what runs are like: a
   job; unfinished states; a time window of last change; an arg; origins
   other than `schedule`; a small label; a folder; failed states; a time
   range bounded both sides; hosts other than `local`...), through its own
   index, named (INDEXED BY: the planner takes no other). The others are
   checked in that index (m0006's hold every filter column but args), the
   ids found first (`id IN (SELECT id ... LIMIT n)`), in the index's own
   order (one job by id; one state, host, origin, arg by time) or sorted,
   so a sort of thousands of matches reads no row it does not return.

By id with `until` alone, the runs due before it are most of the history
when `until` is recent, and the walk reaches them sooner than their index
sorts them: choose_walk picks by where `until` falls between the earliest
and the latest schedule times (two ends of an index).

Time order is `ORDER BY schedule_time DESC, id DESC`: m0006's indexes hold
(schedule_time, id) after their leading column, so it needs no sort. The
page after run `before` in time order is `(schedule_time, id) < (that
run's)`, its time read by id first (BEFORE_TIME); each side of the order
is bounded once, by the stricter of `before`/`until` and `since`/the walk's
edge, as the planner takes one bound for its range and checks the others.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from agentd.types import RunId
from apsisd.runs.model import Origin
from apsisd.runs.state import UNFINISHED, State
from apsisd.store.base import RunQuery
from apsisd.store.codec import READ_COLUMNS, encode_args, encode_id, encode_time

SELECT_RUNS = f"SELECT {', '.join(READ_COLUMNS)} FROM runs"
# Rows the walk looks at before a driving index is asked instead (a few milliseconds of rows).
WALK = 10_000
# A row of the walk costs about this many entries of an index read alone (measured: a row whose filters are
# checked, 0.6 us; an index entry, 0.2 us).
WALK_COST = 3
# A label of at most this many jobs is a good way in: their runs are found by job and sorted.
FEW_JOBS = 300
# The schedule time of run `before`, read first in time order (the page after it is below its (time, id)).
BEFORE_TIME = "SELECT schedule_time FROM runs WHERE id = ?"
_ARG_PRESENT = "EXISTS (SELECT 1 FROM json_each(runs.args) WHERE key = ? AND value = ?)"
# The earliest and latest schedule times, and run `before`'s: the ends of an index, and a row by its id.
SPAN = ("SELECT (SELECT min(schedule_time) FROM runs), (SELECT max(schedule_time) FROM runs), "
        "(SELECT schedule_time FROM runs WHERE id = ?)")
_ORDER = {"id": "id DESC", "time": "schedule_time DESC, id DESC"}
_KEY = {"id": "id", "time": "schedule_time, id"}
# The walks that are the whole answer at once (a short way in): no walk first.
_SHORT = ("job_id", "unfinished", "changed")

Key = tuple[int, ...]  # a row's place in the order: (id,), or (schedule_time, id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """How to answer a RunQuery (see the module's doc): the walk, then if it is not enough the driven query.

    `walks`: whether to walk first; then edge() finds the last row the walk
    may look at (WALK rows on from the page's start), and walk(edge) is the
    walk's (sql, params), bounded by that row (none: fewer rows are left,
    and the walk is the whole answer). `indexed()` is the driven query's
    (sql, params); None when no filter drives, and the walk goes to the end.
    """

    query: RunQuery
    before_time: int | None
    driver: str | None

    @property
    def walks(self) -> bool:
        return self.driver not in _SHORT

    @property
    def open_until(self) -> bool:
        """Whether the runs due before `until` (and no `since`) drive a list by id: their index has them all,
        to sort, when the walk may reach them sooner (see choose_walk)."""
        return (self.driver == "time" and self.query.order == "id" and self.query.since is None
                and self.query.until is not None)

    def choose_walk(self, start: int, first: int) -> Plan | tuple[str, list[Any]]:
        """The walk to the end when it skips fewer runs (by WALK_COST) than its index holds before `until`, as
        the runs' times spread (`start`: the schedule time the walk begins at, run `before`'s or the latest;
        `first`: the earliest of all; SPAN reads them); else the query of the newest id due before `until`, from
        its index alone: the walk from there (walk_from) misses no run above it, and ids follow times closely,
        so it soon finds the page."""
        assert self.query.until is not None
        until = encode_time(self.query.until, "the query's until")
        if WALK_COST * (start - until) < until - first:
            return replace(self, driver=None)
        where, params = ["schedule_time < ?"], [until]
        if self.query.before is not None:
            where.append("id < ?")
            params.append(encode_id(self.query.before))
        return f"SELECT max(id) FROM runs INDEXED BY runs_schedule_time WHERE {' AND '.join(where)}", params

    def walk_from(self, newest: int) -> Plan:
        """The walk to the end, from run `newest` (choose_walk's) on."""
        return replace(self, query=replace(self.query, before=RunId(f"r{newest + 1}")), driver=None)

    def edge(self) -> tuple[str, list[Any]] | None:
        if self.driver is None:
            return None
        conditions, params = _bounds(self.query, self.before_time, None, order_only=True)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return (f"SELECT {_KEY[self.query.order]} FROM runs {_hint(_walk_index(self.query))}{where} "
                f"ORDER BY {_ORDER[self.query.order]} LIMIT 1 OFFSET ?", [*params, WALK - 1])

    def walk(self, edge: Key | None) -> tuple[str, list[Any]]:
        return _select(self.query, _walk_index(self.query), self.before_time, edge, ids_first=False)

    def indexed(self) -> tuple[str, list[Any]] | None:
        if self.driver is None:
            return None
        return _select(self.query, _index(self.query, self.driver), self.before_time, None, ids_first=True)


def runs_plan(query: RunQuery, before_time: int | None = None) -> Plan | None:
    """The plan; None when the query cannot match a run (an empty set of states, jobs, hosts or origins).

    In time order, `before_time` is the schedule time of run `before` as
    stored (BEFORE_TIME reads it; None: there is no such run, and the query
    matches none). StoreError for a naive time.
    """
    if query.order == "time" and query.before is not None and before_time is None:
        return None
    if any(values is not None and not values for values in (query.job_ids, query.states, query.hosts,
                                                             query.origins)):
        return None
    plan = Plan(query=query, before_time=before_time, driver=_driver(query))
    plan.walk(None)  # a time that cannot be stored fails here
    return plan


def runs_sql(query: RunQuery, before_time: int | None = None) -> tuple[str, list[Any]] | None:
    """The driven query, or the walk when nothing drives (what tests/unit/store checks the indexes of)."""
    plan = runs_plan(query, before_time)
    if plan is None:
        return None
    return plan.indexed() or plan.walk(None)


def _driver(query: RunQuery) -> str | None:
    """The filter whose index leads, most selective first (see the module's doc); None: the walk alone."""
    states = query.states
    origins = query.origins
    hosts = query.hosts
    ranked = (
        ("job_id", query.job_id is not None),
        ("unfinished", states is not None and states <= UNFINISHED),
        ("changed", query.changed_since is not None and query.changed_until is not None),
        ("args", bool(query.args) and not query.exact_args),
        ("origin", origins is not None and Origin.SCHEDULE not in origins),
        ("job_ids", query.job_ids is not None and len(query.job_ids) <= FEW_JOBS),
        ("job_prefix", query.job_prefix is not None and bool(query.job_prefix.rstrip("/"))),
        ("state", states is not None and State.SUCCESS not in states),
        ("time", query.since is not None and query.until is not None),
        ("host", hosts is not None and "local" not in hosts),
        ("job_ids", query.job_ids is not None),
        ("time", query.since is not None or query.until is not None),
        ("changed_since", query.changed_since is not None),  # the runs changed lately: a few, walked first
        ("host", hosts is not None),  # with local: most runs, maybe
        ("state", states is not None),
        ("origin", origins is not None),
    )
    return next((name for name, applies in ranked if applies), None)


def _index(query: RunQuery, driver: str) -> str:
    """The index a driver leads through (m0001's and m0006's)."""
    by_time = query.order == "time"
    if driver == "job_id":
        if by_time:
            return "runs_job_time"
        return "runs_instance" if query.exact_args and query.args is not None else "runs_job"
    return {"unfinished": "runs_state_time" if by_time else "runs_state", "state": "runs_state_time",
            "origin": "runs_origin", "host": "runs_host", "job_ids": "runs_job_time", "job_prefix": "runs_job_time",
            "time": "runs_schedule_time", "changed": "runs_updated", "changed_since": "runs_updated",
            "args": "run_args_value"}[driver]


def _walk_index(query: RunQuery) -> str | None:
    return "runs_schedule_time" if query.order == "time" else None


def _hint(index: str | None) -> str:
    """The table as the planner must read it: through `index`, or (None) in the order of its ids."""
    return f"INDEXED BY {index}" if index else "NOT INDEXED"


def _select(query: RunQuery, index: str | None, before_time: int | None, edge: Key | None, *,
            ids_first: bool) -> tuple[str, list[Any]]:
    """The SELECT with every filter, reading the table through `index` (None: the table in id order)."""
    where: list[str] = []
    params: list[Any] = []
    by_arg = index == "run_args_value"
    job = "arg.job" if by_arg else "job_id"  # the same, and in the index
    if query.job_id is not None:
        where.append(f"{job} = ?")
        params.append(query.job_id)
    if query.job_prefix is not None:
        _prefix(query.job_prefix, job, where, params)
    if query.job_ids is not None:
        where.append(f"{job} IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(query.job_ids)))
    if query.args is not None and query.exact_args:
        where.append("args = ?")
        params.append(encode_args(query.args))
    elif query.args:
        for key, value in sorted(query.args.items())[1 if by_arg else 0:]:  # run_args holds the first
            where.append(_ARG_PRESENT)
            params.extend((key, value))
    for name, values in (("state", query.states), ("host", query.hosts), ("origin", query.origins)):
        if values is not None:
            where.append(f"{name} IN ({', '.join('?' * len(values))})")
            params.extend(sorted(str(value) for value in values))
    bounds, bound_params = _bounds(query, before_time, edge, order_only=False,
                                   columns=("arg.due", "arg.run") if by_arg else ("schedule_time", "id"))
    where += bounds
    params += bound_params
    order = _ORDER[query.order]
    limit = max(query.limit, 0)
    if by_arg:  # the runs having the first arg, from run_args, latest due first, or by id (sorted)
        assert query.args
        name, value = min(query.args.items())
        where = ["arg.name = ?", "arg.value = ?", *where]
        params = [name, value, *params]
        by = "arg.due DESC, arg.run DESC" if query.order == "time" else "arg.run DESC"
        return (f"{SELECT_RUNS} WHERE id IN (SELECT runs.id FROM run_args AS arg INDEXED BY run_args_value "
                f"CROSS JOIN runs ON runs.id = arg.run WHERE {' AND '.join(where)} ORDER BY {by} LIMIT ?) "
                f"ORDER BY {order}", [*params, limit])
    conditions = f" WHERE {' AND '.join(where)}" if where else ""
    if ids_first:
        return (f"{SELECT_RUNS} WHERE id IN (SELECT id FROM runs {_hint(index)}{conditions} ORDER BY {order} "
                f"LIMIT ?) ORDER BY {order}", [*params, limit])
    return f"{SELECT_RUNS} {_hint(index)}{conditions} ORDER BY {order} LIMIT ?", [*params, limit]


def _bounds(query: RunQuery, before_time: int | None, edge: Key | None, *, order_only: bool,
            columns: tuple[str, str] = ("schedule_time", "id")) -> tuple[list[str], list[Any]]:
    """The conditions of the times and of the page's place: each side of the order's key bounded once, by the
    stricter bound (given two, the planner may take the looser one for its range). `order_only`: only the
    page's start (before; in time order, until too). `columns` name the schedule time and the id."""
    time, number = columns
    where: list[str] = []
    params: list[Any] = []
    times = {name: encode_time(getattr(query, name), f"the query's {name}")
             for name in ("since", "until", "changed_since", "changed_until") if getattr(query, name) is not None}
    if query.order == "time":
        # Every bound as a row value (schedule_time, id): ids are above 0, so `t < until` is (t, id) < (until, 0).
        upper = [(times["until"], 0)] if "until" in times else []
        if query.before is not None:
            assert before_time is not None
            upper.append((before_time, encode_id(query.before)))
        lower = [] if order_only or "since" not in times else [(times["since"], 0)]
        if edge is not None:
            lower.append((edge[0], edge[1]))
        if upper:
            where.append(f"({time}, {number}) < (?, ?)")
            params.extend(min(upper))
        if lower:
            where.append(f"({time}, {number}) >= (?, ?)")
            params.extend(max(lower))
    else:
        if query.before is not None:
            where.append(f"{number} < ?")
            params.append(encode_id(query.before))
        if edge is not None:
            where.append(f"{number} >= ?")
            params.append(edge[0])
        if not order_only:
            for name, condition in (("since", f"{time} >= ?"), ("until", f"{time} < ?")):
                if name in times:
                    where.append(condition)
                    params.append(times[name])
    if not order_only:
        for name, condition in (("changed_since", "updated >= ?"), ("changed_until", "updated < ?")):
            if name in times:
                where.append(condition)
                params.append(times[name])
    return where, params


def _prefix(prefix: str, job: str, where: list[str], params: list[Any]) -> None:
    """Jobs under the folder `prefix` (and the job of that name too, unless it ends in '/')."""
    folder = prefix.rstrip("/")
    if not folder:
        return
    # Every id under folder/ sorts in [folder/, folder0): '0' is the character after '/'. The job `folder` and
    # those ids are in [folder, folder0), one range of an index, with others (folder-x, folder.x) to leave out.
    if prefix.endswith("/"):
        where.append(f"{job} >= ? AND {job} < ?")
        params.extend((folder + "/", folder + "0"))
    else:
        where.append(f"{job} >= ? AND {job} < ? AND ({job} = ? OR {job} >= ?)")
        params.extend((folder, folder + "0", folder, folder + "/"))
