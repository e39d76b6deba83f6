"""Reloading the jobs folder: all of it or nothing, and only the runs of jobs that changed are touched.

A folder with errors changes nothing (the jobs in force stay). Otherwise:
removed jobs lose their future scheduled runs; changed jobs keep each
future run the new job still gives at the same time with the same args (same
id), lose the others and gain the new ones; added jobs start from now. Runs
already waiting or started are never touched, and nothing missed is caught
up: a reload is not a restart.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from apsisd.errors import ApsisError, InvalidFiles, StoreError
from apsisd.jobs.model import Job, JobSet
from apsisd.runs.model import LogEntry, Origin, Run
from apsisd.scheduler.feed import JobsChanged
from apsisd.scheduler.plan import expand, job_changes, rematch
from apsisd.scheduler.service import Scheduler
from apsisd.types import JobId, RunId

log = logging.getLogger("apsisd.scheduler")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadResult:
    """What a reload did (or, dry, would do); `errors` (FILE:LINE: ...) when the folder was refused."""

    added: tuple[JobId, ...] = ()
    changed: tuple[JobId, ...] = ()
    removed: tuple[JobId, ...] = ()
    errors: tuple[str, ...] = ()
    applied: bool = False


class Reloader:
    def __init__(self, scheduler: Scheduler, load: Callable[[], JobSet]) -> None:
        self.scheduler = scheduler
        self.load = load
        self._lock = asyncio.Lock()

    async def reload(self, *, dry_run: bool = False) -> ReloadResult:
        """Read the folder again (off the event loop) and apply it, unless `dry_run`; StoreError if the store
        refuses the change (then the jobs in force are unchanged)."""
        async with self._lock:
            try:
                fresh = await asyncio.to_thread(self.load)
            except InvalidFiles as exc:
                return ReloadResult(errors=tuple(str(problem) for problem in exc.problems))
            except ApsisError as exc:  # the folder itself: gone, or not a folder
                return ReloadResult(errors=(str(exc),))
            except Exception as exc:  # a bug in the loader: the jobs in force stay, as for any refused folder
                log.error("reading the jobs folder failed", exc_info=True, extra={"action": "reload_failed"})
                return ReloadResult(errors=(f"the jobs folder could not be read ({type(exc).__name__}); this is a "
                                            "bug in apsis: please report it",))
            scheduler = self.scheduler
            changes = job_changes(scheduler.jobs.jobs, fresh.jobs)
            if dry_run:
                return ReloadResult(added=changes.added, changed=changes.changed, removed=changes.removed,
                                    applied=False)
            if not changes and fresh.calendars == scheduler.jobs.calendars:
                scheduler.jobs = fresh  # the same jobs, maybe worded anew (Job.written): shown as now written
                return ReloadResult(applied=False)
            now = scheduler.clock.now()
            in_force, scheduler.jobs = scheduler.jobs, fresh
            withdrawn: list[RunId] = []
            drafts: list[tuple[Run, LogEntry]] = []
            moved: list[tuple[Run, LogEntry]] = []
            cursors: dict[JobId, datetime | None] = {}
            for job_id in changes.removed:
                withdrawn.extend(run.id for run in scheduler.ledger.scheduled_by_schedule(job_id)
                                 if run.schedule_time > now)
                cursors[job_id] = None
            for job_id in changes.changed:
                fit = refit(scheduler, fresh.jobs[job_id], now, "job reloaded")
                withdrawn.extend(fit.withdrawn)
                drafts.extend(fit.drafts)
                moved.extend(fit.moved)
                cursors[job_id] = fit.cursor
            for job_id in changes.added:
                cursors[job_id] = now
            try:
                await scheduler.apply(drafts, deleted=withdrawn, cursors=cursors, moved=moved)
            except StoreError:  # not recorded: the jobs in force stay, as their runs do
                scheduler.jobs = in_force
                raise
            scheduler.records.feed.publish_jobs(JobsChanged(
                added=tuple(fresh.jobs[job_id] for job_id in changes.added),
                changed=tuple(fresh.jobs[job_id] for job_id in changes.changed), removed=changes.removed))
            for job_id in (*changes.added, *changes.changed):
                scheduler.topup_soon(job_id)
            return ReloadResult(added=changes.added, changed=changes.changed, removed=changes.removed,
                                applied=True)


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
