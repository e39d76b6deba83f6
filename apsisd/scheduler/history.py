"""The runs as recorded, as the API reads them: a page of runs, one run's log, what changed since a number.

The API reaches the runs through these and never the store itself
(tests/test_imports.py): what it reads stays the scheduler's to serve, so
a run in flight is shown as the ledger holds it, and the store can change
behind the scheduler without the routes knowing.
"""
from __future__ import annotations

from agentd.types import RunId
from apsisd.runs.model import LogEntry, Run
from apsisd.scheduler.service import Scheduler
from apsisd.store import base
from apsisd.store.base import RunQuery


async def runs_page(scheduler: Scheduler, query: RunQuery) -> tuple[list[Run], RunId | None]:
    """The runs of `query`, each as it is now, and the `before` of the page after them (None: there is none), in
    either order (a run id places the next page by id and by time alike).

    The ledger is ahead of the store by at most a commit: a run in flight is
    shown as the ledger holds it.
    """
    found, after = await base.runs_page(scheduler.records.store, query)
    return [scheduler.ledger.get(run.id) or run for run in found], after


async def runs(scheduler: Scheduler, query: RunQuery) -> list[Run]:
    """The runs of `query` as the store holds them."""
    return await scheduler.records.store.runs(query)


async def run_log(scheduler: Scheduler, run_id: RunId) -> list[LogEntry]:
    """The run's log, oldest first; UnknownRun for a run never recorded."""
    return await scheduler.records.store.log(run_id)


def next_seq(scheduler: Scheduler) -> int:
    """The number the store gives the next change: every change recorded so far has a lower one."""
    return scheduler.records.store.next_seq


async def changed_since(scheduler: Scheduler, seq: int, limit: int) -> list[tuple[int, Run | RunId]]:
    """Each run changed after change `seq` (as it is now, with the number of its last change) and each run
    deleted since (its id), in order; at most `limit` runs (call again from the last number to go on)."""
    return await scheduler.records.store.changed_since(seq, limit)
