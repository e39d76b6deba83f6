"""Taking up the work again after apsisd was down: the store says what we were doing, the host what happened.

- starting, running, stopping: followed on the host; one whose unit ended
  meanwhile gets its real outcome from the journal; a `starting` run with no
  trace on the host is started then (its spec was committed before).
- waiting: its conditions bound again and checked; the maximum waiting time
  still counts from when it started waiting.
- scheduled runs that came due, and the runs the schedules gave while
  apsisd was down (each job's cursor up to now): the job's catch-up policy
  decides which start now; the others are recorded as skipped, with why.
- scheduled runs still to come: made to fit each job as its file reads
  now (it may have been edited while apsisd was down), as a reload would.
- the jobs held (their files exist but have problems, JobSet.held): their
  runs and cursor are left as stored, nothing withdrawn, caught up or
  started (a run already on the host is still followed to its end: its spec
  is fixed), until a reload reads their files again and takes them up as a
  start would (release()); a job whose file is gone is removed as ever.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from agentd.types import JobId, RunId
from apsisd.runs.model import LogEntry, Origin, Run, transition
from apsisd.runs.skips import job_not_loaded
from apsisd.runs.state import State
from apsisd.scheduler.plan import Missed, catch_up
from apsisd.scheduler.refit import finished_ahead, refit
from apsisd.scheduler.service import Scheduler

log = logging.getLogger("apsisd.scheduler")


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeUp:
    """What taking jobs up decides, for one commit (Scheduler.apply)."""

    drafts: list[tuple[Run, LogEntry]]
    withdrawn: list[RunId]
    moved: list[tuple[Run, LogEntry]]
    cursors: dict[JobId, datetime | None]
    caught_up: int


async def recover(scheduler: Scheduler, since: datetime | None) -> None:
    """Load the runs in flight and the cursors, settle what was missed, and follow what is on the host."""
    records, jobs, held = scheduler.records, scheduler.jobs.jobs, scheduler.jobs.held
    runs = await records.store.unfinished()
    scheduler.cursors = await records.store.cursors()
    for run in runs:
        records.ledger.put(run)
    job_ids = [*jobs, *(job_id for job_id in scheduler.cursors if job_id not in jobs and job_id not in held)]
    now = scheduler.clock.now()
    finished = await finished_ahead(scheduler, set(job_ids), now)
    plan = take_up(scheduler, [run for run in runs if run.job_id not in held], job_ids, now, since, finished)
    await scheduler.apply(plan.drafts, deleted=plan.withdrawn, cursors=plan.cursors, moved=plan.moved)
    skipped = sum(1 for run, _ in (*plan.drafts, *plan.moved) if run.state is State.SKIPPED)
    log.info("recovered %d runs in flight; %d missed runs caught up, %d skipped, %d withdrawn; %d jobs held",
             len(runs), plan.caught_up, skipped, len(plan.withdrawn), len(held), extra={"action": "recovered"})
    _follow(scheduler, runs)
    scheduler.spawn(scheduler.driver.let_go_of_ended(), "let-go-of-ended")
    for run_id, state, ran in await records.store.actions_owed():  # a crash came between a transition and them
        scheduler.spawn(scheduler.act(await records.store.get(run_id), state, ran), f"actions:{run_id}:{state}")


def take_up(scheduler: Scheduler, runs: Iterable[Run], job_ids: Iterable[JobId], now: datetime,
            since: datetime | None, finished: Mapping[JobId, Sequence[Run]], why: str = "job as read at start"
            ) -> TakeUp:
    """What becomes of the jobs `job_ids` after a time nothing was scheduled for them (apsisd down, or the job
    held), given their unfinished `runs` and their runs `finished` ahead of now (refit.finished_ahead()): a job
    in force catches up from its cursor by its catch-up policy (only what is due at or after `since`) and its
    future runs fit it as it reads now; a job no longer loaded loses its future scheduled runs and its cursor,
    and the ones that came due are skipped."""
    records, jobs = scheduler.records, scheduler.jobs.jobs
    missed: dict[JobId, list[Missed]] = defaultdict(list)
    withdrawn: list[RunId] = []
    moved: list[tuple[Run, LogEntry]] = []
    for run in runs:
        if run.state is State.SCHEDULED and run.origin is Origin.SCHEDULE:
            if run.job_id not in jobs:
                if run.schedule_time > now:
                    withdrawn.append(run.id)
                else:
                    moved.append(transition(run, State.SKIPPED, now, job_not_loaded(run.job_id)))
            elif run.schedule_time < now:  # from now on, refit() below takes it
                missed[run.job_id].append(Missed(job_id=run.job_id, time=run.schedule_time, args=run.args,
                                                 existing=run.id))
    behind: list[JobId] = []  # jobs whose cursor fell behind: it moves to now
    drafts = []
    cursors: dict[JobId, datetime | None] = {}
    for job_id in job_ids:
        job = jobs.get(job_id)
        cursor = scheduler.cursors.get(job_id)
        if job is None:
            if cursor is not None:
                cursors[job_id] = None
        elif cursor is not None and cursor < now:
            behind.append(job_id)
            missed[job_id].extend(Missed(job_id=job_id, time=due.time, args=due.args)
                                  for due in job.due_between(cursor, now))
        elif cursor is not None:  # the job file may have changed meanwhile: its future runs follow it
            fit = refit(scheduler, job, now, why, finished.get(job_id, ()))
            withdrawn.extend(fit.withdrawn)
            drafts.extend(fit.drafts)
            moved.extend(fit.moved)
            cursors[job_id] = fit.cursor
    caught_up = 0
    for job_id, items in missed.items():
        for verdict in catch_up(items, scheduler.policy(jobs[job_id]), now, since):
            item = verdict.missed
            caught_up += verdict.start
            if item.existing is not None:
                if not verdict.start:
                    stored = records.ledger.get(item.existing)
                    assert stored is not None
                    moved.append(transition(stored, State.SKIPPED, now, verdict.reason))
            else:
                drafts.append(records.draft(job_id, item.args, item.time, origin=Origin.SCHEDULE,
                                            state=State.SCHEDULED if verdict.start else State.SKIPPED,
                                            reason=verdict.reason, at=now))
    cursors.update({job_id: now for job_id in behind})
    return TakeUp(drafts=drafts, withdrawn=withdrawn, moved=moved, cursors=cursors, caught_up=caught_up)


def release(scheduler: Scheduler, held: Iterable[JobId], now: datetime, finished: Mapping[JobId, Sequence[Run]]
            ) -> tuple[TakeUp, list[Run]]:
    """The jobs that were held, taken up by the reload that read their files again (scheduler.jobs is the new
    set: a job gone from it is removed): what to commit, and their runs, for resume() once it is committed."""
    runs = [run for job_id in held for run in scheduler.ledger.active(job_id)]
    return take_up(scheduler, runs, held, now, None, finished, "job read again after it was held"), runs


def resume(scheduler: Scheduler, runs: Iterable[Run]) -> None:
    """After release() is committed: the runs of the held jobs that are still scheduled come due (those that came
    due while held start now, as caught up), the waiting ones wait again."""
    for run in runs:
        current = scheduler.ledger.get(run.id)
        if current is None:
            continue
        if current.state is State.SCHEDULED:
            scheduler.ledger.due_again(run.id)
        elif current.state is State.WAITING:
            _wait(scheduler, current)
    scheduler.wake()


def _follow(scheduler: Scheduler, runs: list[Run]) -> None:
    driver, held = scheduler.driver, scheduler.jobs.held
    for run in runs:
        if run.state is State.STARTING:
            driver.follow(run.id, restart_if_missing=True)
        elif run.state is State.RUNNING:
            driver.follow(run.id)
            if run.stop_time is not None:
                driver.arm_stop_time(run.id)
        elif run.state is State.STOPPING:
            driver.follow(run.id)
            scheduler.spawn(driver.resume_stop(run.id), f"stop:{run.id}")
        elif run.state is State.WAITING and run.job_id not in held:  # a held job's conditions are not known
            _wait(scheduler, run)


def _wait(scheduler: Scheduler, run: Run) -> None:
    job = scheduler.jobs.jobs.get(run.job_id)
    if job is None:
        scheduler.spawn(scheduler.records.error(run.id, job_not_loaded(run.job_id)), f"error:{run.id}")
    else:
        scheduler.spawn(scheduler.waiter.enter(run, job, resumed=True), f"wait:{run.id}")
