"""A job's future scheduled runs made to fit the job as it reads now: after a reload changed it, or at a start
after apsisd was down (its file may have been edited meanwhile).

Every slot of a schedule (a time and args it gives) has one run, across
reloads and restarts: a slot whose run is already past scheduled keeps it
and gets no other. That run may be starting (committed LEAD before its
time), running, or finished before its time (an operator skipped it ahead,
or the host refused it): the ledger holds the unfinished, the store the
finished (finished_ahead()).
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from agentd.types import JobId, RunId
from apsisd.jobs.model import Job
from apsisd.runs.model import LogEntry, Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler.plan import expand, rematch
from apsisd.scheduler.service import Scheduler


@dataclass(frozen=True, slots=True, kw_only=True)
class Refit:
    withdrawn: list[RunId]
    drafts: list[tuple[Run, LogEntry]]
    moved: list[tuple[Run, LogEntry]]  # kept runs whose stop time changed
    cursor: datetime


async def finished_ahead(scheduler: Scheduler, job_ids: Collection[JobId], now: datetime) -> dict[JobId, list[Run]]:
    """The runs of these jobs' schedules due at or after `now` that have finished already, by job: what refit()
    must know besides the ledger.

    Read while the scheduler goes on, a run that finishes meanwhile could be
    in neither the ledger nor the store's answer: so the ledger is looked at
    as the store is asked (a finish is committed as it leaves the ledger, so
    the store answers with every earlier one), and a run gone from it since
    is counted too (only a reload or a start withdraws runs, and never while
    this is read).
    """
    ledger = scheduler.ledger
    before = [run for job_id in job_ids for run in ledger.active(job_id) if _ahead(run, now)]
    stored = await scheduler.records.store.finished_ahead(now)
    found: dict[RunId, Run] = {run.id: run for run in before if ledger.get(run.id) is None}
    found.update((run.id, run) for run in stored if run.job_id in job_ids and _ahead(run, now))
    by_job: dict[JobId, list[Run]] = {}
    for run in found.values():
        by_job.setdefault(run.job_id, []).append(run)
    return by_job


def refit(scheduler: Scheduler, job: Job, now: datetime, why: str, finished: Sequence[Run]) -> Refit:
    """The job's future scheduled runs made to fit the job as it reads now (changed by a reload, or while apsisd
    was down): each run it still gives at the same time with the same args is kept (same id, its stop time
    brought up to date), the others are withdrawn, the missing ones drafted; and where the cursor goes. A slot
    whose run is past scheduled (in the ledger, or `finished`, the job's from finished_ahead()) is left to it."""
    # From now on, a run due at this very instant included: the new expansion gives it too.
    ahead = [run for run in scheduler.ledger.active(job.id) if _ahead(run, now)]
    future = [run for run in ahead if run.state is State.SCHEDULED]
    taken = [(run.schedule_time, run.args) for run in (*ahead, *finished) if run.state is not State.SCHEDULED]
    plan = expand(job, scheduler.policy(job), now, now, 0)
    gone, new, kept = rematch([(run.id, run.schedule_time, run.args) for run in future], plan.dues, taken)
    moved = []
    for run_id, due in kept:
        run = scheduler.ledger.get(run_id)
        if run is not None and run.stop_time != due.stop:
            moved.append((replace(run, stop_time=due.stop),
                          LogEntry(run_id=run_id, time=now, message=f"stop time now {due.stop} ({why})")))
    drafts = [scheduler.records.draft(job.id, due.args, due.time, origin=Origin.SCHEDULE,
                                      reason=f"scheduled by the job's schedule ({why})", stop_time=due.stop)
              for due in new]
    return Refit(withdrawn=gone, drafts=drafts, moved=moved, cursor=plan.cursor)


def _ahead(run: Run, now: datetime) -> bool:
    """A run its job's schedules made for now or later."""
    return run.origin is Origin.SCHEDULE and run.schedule_time >= now
