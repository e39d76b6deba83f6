"""Taking up the work again after apsisd was down: the store says what we were doing, the host what happened.

recovery_plan.py decides, from plain data, what becomes of each run and job;
this applies it, in this order: the runs in flight and the cursors read from
the store, the plan's commit (new, withdrawn and skipped runs, cursors), one
log line, each run in flight followed on its host (or waiting again), the
units of ended runs let go, and the actions a crash left owed run again.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from agentd.types import JobId
from apsisd.runs.model import Run
from apsisd.runs.skips import job_not_loaded
from apsisd.runs.state import State
from apsisd.scheduler.recovery_plan import Pickup, TakeUp, pickup, recovery, take_up, taken_up
from apsisd.scheduler.refit import finished_ahead
from apsisd.scheduler.service import Scheduler

log = logging.getLogger("apsisd.scheduler")
RELEASED = "job read again after it was held"


async def recover(scheduler: Scheduler, since: datetime | None) -> None:
    """Load the runs in flight and the cursors, settle what was missed, and follow what is on the host."""
    records = scheduler.records
    runs = await records.store.unfinished()
    scheduler.cursors = await records.store.cursors()
    for run in runs:
        records.ledger.put(run)
    now = scheduler.clock.now()
    finished = await finished_ahead(scheduler, set(taken_up(scheduler.jobs, scheduler.cursors)), now)
    plan = recovery(runs=runs, jobs=scheduler.jobs, defaults=scheduler.defaults, cursors=scheduler.cursors, now=now,
                    since=since, finished=finished)
    taken = plan.take_up
    await scheduler.apply(records.drafts(taken.new, now), deleted=taken.withdrawn, cursors=taken.cursors,
                          moved=taken.moved)
    log.info("recovered %d runs in flight; %d missed runs caught up, %d skipped, %d withdrawn; %d jobs held",
             plan.in_flight, taken.caught_up, taken.skipped, len(taken.withdrawn), plan.held,
             extra={"action": "recovered"})
    for run, how in plan.pickups:
        _pick_up(scheduler, run, how)
    scheduler.spawn(scheduler.driver.let_go_of_ended(), "let-go-of-ended")
    for run_id, state, ran in await records.store.actions_owed():  # a crash came between a transition and them
        scheduler.spawn(scheduler.act(await records.store.get(run_id), state, ran), f"actions:{run_id}:{state}")


def release(scheduler: Scheduler, held: Iterable[JobId], now: datetime, finished: Mapping[JobId, Sequence[Run]]
            ) -> tuple[TakeUp, list[Run]]:
    """The jobs that were held, taken up by the reload that read their files again (scheduler.jobs is the new
    set: a job gone from it is removed): what to commit, and their runs, for resume() once it is
    committed."""
    held = list(held)
    runs = [run for job_id in held for run in scheduler.ledger.active(job_id)]
    return take_up(runs=runs, job_ids=held, jobs=scheduler.jobs.jobs, defaults=scheduler.defaults,
                   cursors=scheduler.cursors, now=now, since=None, finished=finished, why=RELEASED), runs


def resume(scheduler: Scheduler, runs: Iterable[Run]) -> None:
    """After release() is committed: the runs of the held jobs that are still scheduled come due (those that came
    due while held start now, as caught up), the waiting ones wait again."""
    for run in runs:
        current = scheduler.ledger.get(run.id)
        if current is None:
            continue
        if current.state is State.SCHEDULED:
            scheduler.ledger.due_again(run.id)
        elif current.state is State.WAITING and (how := pickup(current, scheduler.jobs)) is not None:
            _pick_up(scheduler, current, how)
    scheduler.wake()


def _pick_up(scheduler: Scheduler, run: Run, how: Pickup) -> None:
    driver = scheduler.driver
    if how is Pickup.FOLLOW_OR_START:
        driver.follow(run.id, restart_if_missing=True)
    elif how is Pickup.FOLLOW:
        driver.follow(run.id)
    elif how is Pickup.FOLLOW_TO_STOP_TIME:
        driver.follow(run.id)
        driver.arm_stop_time(run.id)
    elif how is Pickup.STOP_AGAIN:
        driver.follow(run.id)
        scheduler.spawn(driver.resume_stop(run.id), f"stop:{run.id}")
    elif how is Pickup.WAIT:
        scheduler.spawn(scheduler.waiter.enter(run, scheduler.jobs.jobs[run.job_id], resumed=True), f"wait:{run.id}")
    else:
        scheduler.spawn(scheduler.records.error(run.id, job_not_loaded(run.job_id)), f"error:{run.id}")
