"""A job's future scheduled runs made to fit the job as it reads now: after a reload changed it, or at a start
after apsisd was down (its file may have been edited meanwhile)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from apsisd.jobs.model import Job
from apsisd.runs.model import LogEntry, Origin, Run
from apsisd.scheduler.plan import expand, rematch
from apsisd.scheduler.service import Scheduler
from apsisd.types import RunId


@dataclass(frozen=True, slots=True, kw_only=True)
class Refit:
    withdrawn: list[RunId]
    drafts: list[tuple[Run, LogEntry]]
    moved: list[tuple[Run, LogEntry]]  # kept runs whose stop time changed
    cursor: datetime


def refit(scheduler: Scheduler, job: Job, now: datetime, why: str) -> Refit:
    """The job's future scheduled runs made to fit the job as it reads now (changed by a reload, or while apsisd
    was down): each run it still gives at the same time with the same args is kept (same id, its stop time
    brought up to date), the others are withdrawn, the missing ones drafted; and where the cursor goes."""
    # From now on, a run due at this very instant included: the new expansion gives it too.
    future = [run for run in scheduler.ledger.scheduled_by_schedule(job.id) if run.schedule_time >= now]
    plan = expand(job, scheduler.policy(job), now, now, 0)
    gone, new, kept = rematch([(run.id, run.schedule_time, run.args) for run in future], plan.dues)
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
