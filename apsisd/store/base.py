"""The Store protocol: where runs, their logs and the scheduling cursors are kept.

The scheduler owns the truth in memory for runs that are not finished and
writes every change through commit() before acting on it; after a crash,
the store plus the host are all there is. Finished runs live only here, so
reads of history (an operator's list, a dependency on yesterday's run) are
queries, never a scan of memory.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Literal, Protocol

from agentd.types import JobId, RunId
from apsisd.runs.model import LogEntry, Origin, Run
from apsisd.runs.state import State


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    """One atomic write: all of it is committed, or none of it.

    `runs` are written whole (inserted, or replacing the stored row of the
    same id); `deleted` are runs withdrawn before they ever started (a
    changed or removed job's future runs); `cursors` set each job's
    scheduling cursor (None forgets the job's cursor). `actions_owed` are
    (run, state entered) whose actions are still to run, committed with the
    transition; `actions_ran` mark one of them (run, state, its place in the
    job's actions) as run, committed with what it made (a `schedule`
    action's run), so that it is not run again after a crash; `actions_done`
    cross them off, marks and all, once they have all run.
    """

    runs: Sequence[Run] = ()
    log: Sequence[LogEntry] = ()
    deleted: Sequence[RunId] = ()
    cursors: Mapping[JobId, datetime | None] = field(default_factory=lambda: MappingProxyType({}))
    actions_owed: Sequence[tuple[RunId, State]] = ()
    actions_ran: Sequence[tuple[RunId, State, int]] = ()
    actions_done: Sequence[tuple[RunId, State]] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunQuery:
    """Which runs to list: newest (highest id) first, or (`order` "time") latest `schedule_time` first.

    `args` matches runs having each of these args with this value (others
    may have more), or with exactly these args when `exact_args` (what a
    dependency looks for: an index finds them); `job_prefix` is a path:
    'etl/' matches the jobs under etl/, 'etl' also the job etl itself, never
    etl2; `job_ids` matches the runs of any of these jobs; `hosts` the runs
    recorded on any of these hosts (a run not yet bound to one has none);
    `origins` the runs of any of these origins (an empty set of jobs,
    states, hosts or origins: none); `since` and `until` bound
    `schedule_time` in [since, until), `changed_since` and `changed_until`
    the instant the run last changed (its row was last written, by the wall
    clock) in [changed_since, changed_until). Every filter given must hold.

    `order` "id" lists by id, highest first; "time" by `schedule_time`,
    latest first, and runs due at the same instant by id, highest first.
    `before` pages in either order: only the runs that come after run
    `before` in it (a lower id; in time order a lower (schedule_time, id)
    than that run's; a `before` that names no stored run then matches none).
    """

    job_id: JobId | None = None
    job_prefix: str | None = None
    job_ids: frozenset[JobId] | None = None
    args: Mapping[str, str] | None = None
    exact_args: bool = False
    states: frozenset[State] | None = None
    hosts: frozenset[str] | None = None
    origins: frozenset[Origin] | None = None
    since: datetime | None = None
    until: datetime | None = None
    changed_since: datetime | None = None
    changed_until: datetime | None = None
    before: RunId | None = None
    limit: int = 100
    order: Literal["id", "time"] = "id"


class Store(Protocol):
    """Contract of every store (tests/contract runs it against each).

    Errors: StoreError when the database cannot be used; UnknownRun from
    get() and log() for an id never stored. Every method is safe to call from
    the event loop: blocking work happens elsewhere.
    """

    def new_ids(self, count: int) -> list[RunId]:
        """`count` fresh run ids, never given before (not even to runs that were then deleted)."""
        ...

    @property
    def next_seq(self) -> int:
        """The sequence number the next run written will get: every change committed so far has a lower one."""
        ...

    async def commit(self, changes: Changes) -> int:
        """Write `changes` durably (against a crash of apsisd) before returning.

        Every run written gets the next sequence number, in order, then every
        run deleted (kept as a tombstone): the number of the first is returned.
        The numbers follow the order commit() was called in.
        """
        ...

    async def get(self, run_id: RunId) -> Run:
        ...

    async def unfinished(self) -> list[Run]:
        """Every run not in a finished state: what a restarting apsisd takes up again."""
        ...

    async def runs(self, query: RunQuery) -> list[Run]:
        ...

    async def log(self, run_id: RunId) -> list[LogEntry]:
        """The run's log, oldest first."""
        ...

    async def cursors(self) -> dict[JobId, datetime]:
        """Each job's scheduling cursor: runs due before it have been created."""
        ...

    async def actions_owed(self) -> list[tuple[RunId, State, frozenset[int]]]:
        """The (run, state) whose actions were committed as owed and never crossed off, each with the places of
        its actions marked as run (Changes.actions_ran)."""
        ...

    async def finished_ahead(self, since: datetime) -> list[Run]:
        """Runs due at or after `since` that have finished already (skipped ahead of their time, or ended before
        it), in time order: their slots are taken, and what makes a job's runs again must not make them anew."""
        ...

    async def late(self, since: datetime, threshold: float, limit: int) -> list[Run]:
        """Runs due at or after `since` that started more than `threshold` seconds late, latest due first."""
        ...

    async def changed_since(self, seq: int, limit: int) -> list[tuple[int, Run | RunId]]:
        """What changed after sequence number `seq`, in order: each run written since once, as it is now (with
        the number of its last write), and each run deleted since (its id); at most `limit` runs per call (call
        again from the last number to go on)."""
        ...

    async def check_writable(self) -> None:
        """Write something that means nothing else, and commit it: StoreError if the store cannot take a write
        now (how apsisd learns that a full disk has room again, when nothing else is waiting to be written)."""
        ...

    async def close(self) -> None:
        ...


async def runs_page(store: Store, query: RunQuery) -> tuple[list[Run], RunId | None]:
    """The runs of `query` and the `before` of the page after them (None when there is none).

    One run more than the limit is asked for: whether another page exists is
    known without a second query, and never promised when it would be empty.
    """
    found = await store.runs(replace(query, limit=query.limit + 1))
    if len(found) <= query.limit:
        return found, None
    page = found[:query.limit]
    return page, page[-1].id if page else None
