"""What an operator may do to a run: skip it before it starts, stop it while it runs, mark a finished one.

Each checks the run's state against the transition table first and says
why not (TransitionError, UnknownRun), so the API answers a clear 4xx and
nothing is half done; then it goes through the same records as every change.
"""
from __future__ import annotations

from apsisd.errors import TransitionError
from apsisd.runs.model import Run, mark
from apsisd.runs.state import TRANSITIONS, State
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import Changes
from apsisd.types import RunId


async def current(scheduler: Scheduler, run_id: RunId) -> Run:
    """The run as it is now: in flight from the ledger, else from the store; UnknownRun if never recorded."""
    return scheduler.ledger.get(run_id) or await scheduler.records.store.get(run_id)


async def skip(scheduler: Scheduler, run_id: RunId, who: str) -> Run:
    """A run not yet started (scheduled or waiting) ends skipped."""
    run = await current(scheduler, run_id)
    if run.state not in (State.SCHEDULED, State.WAITING):
        raise TransitionError(run_id, run.state, State.SKIPPED, [str(s) for s in sorted(TRANSITIONS[run.state])],
                              why="only a scheduled or waiting run can be skipped")
    moved = await scheduler.records.move(run_id, State.SKIPPED, f"skipped by {who}")
    if moved is None:  # it started meanwhile
        return await skip(scheduler, run_id, who)
    return moved


async def stop(scheduler: Scheduler, run_id: RunId, who: str) -> Run:
    """A running run is stopped: its stop signal, the grace period, then SIGKILL (a stopping one is left be)."""
    run = await current(scheduler, run_id)
    if run.state is State.STOPPING:
        return run
    if run.state is not State.RUNNING:
        raise TransitionError(run_id, run.state, State.STOPPING, [], why="only a running run can be stopped")
    await scheduler.driver.stop(run_id, f"stopped by {who}")
    return await current(scheduler, run_id)


async def mark_as(scheduler: Scheduler, run_id: RunId, state: State, who: str) -> Run:
    """A finished run recorded as another finished state (an operator's correction, logged as such)."""
    run = await current(scheduler, run_id)
    marked, entry = mark(run, state, scheduler.clock.now(), f"by {who}")
    await scheduler.records.store.commit(Changes(runs=[marked], log=[entry]))
    return marked


