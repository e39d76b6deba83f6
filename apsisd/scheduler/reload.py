"""Reloading the jobs folder: all of it or nothing, and only the runs of jobs that changed are touched.

A folder with errors changes nothing (the jobs in force stay, and the jobs
held stay held). Otherwise: removed jobs lose their future scheduled runs;
changed jobs keep each future run the new job still gives at the same time
with the same args (same id), lose the others and gain the new ones; added
jobs start from now. Runs already waiting or started are never touched (nor
is their slot given another run: refit.py), and nothing missed is caught up:
a reload is not a restart. Except for the jobs
held since the start (their files had problems): for them it is the start
they missed, so they are taken up as a start takes up a job (recovery_plan.take_up()),
with their stored runs and cursor, missed runs caught up by their own
`catchup`; reported as added (or removed, if their file is gone).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agentd.types import JobId, RunId
from apsisd.errors import ApsisError, InvalidFiles, StoreError
from apsisd.jobs.model import JobSet
from apsisd.runs.model import LogEntry, Run
from apsisd.scheduler.feed import JobsChanged
from apsisd.scheduler.plan import job_changes
from apsisd.scheduler.recovery import release, resume
from apsisd.scheduler.refit import finished_ahead, refit
from apsisd.scheduler.service import Scheduler

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
            held = sorted(scheduler.jobs.held)
            removed = tuple(sorted((*changes.removed, *(job_id for job_id in held if job_id not in fresh.jobs))))
            if dry_run:
                return ReloadResult(added=changes.added, changed=changes.changed, removed=removed, applied=False)
            if not changes and not held and fresh.calendars == scheduler.jobs.calendars:
                scheduler.jobs = fresh  # the same jobs, maybe worded anew (Job.written): shown as now written
                return ReloadResult(applied=False)
            now = scheduler.clock.now()
            finished = await finished_ahead(scheduler, {*changes.changed, *held}, now)  # StoreError: nothing changed
            in_force, scheduler.jobs = scheduler.jobs, fresh
            taken, runs = release(scheduler, held, now, finished)
            withdrawn: list[RunId] = taken.withdrawn
            drafts: list[tuple[Run, LogEntry]] = scheduler.records.drafts(taken.new, now)
            moved: list[tuple[Run, LogEntry]] = taken.moved
            cursors: dict[JobId, datetime | None] = taken.cursors
            for job_id in changes.removed:
                withdrawn.extend(run.id for run in scheduler.ledger.scheduled_by_schedule(job_id)
                                 if run.schedule_time > now)
                cursors[job_id] = None
            for job_id in changes.changed:
                fit = refit(scheduler, fresh.jobs[job_id], now, "job reloaded", finished.get(job_id, ()))
                withdrawn.extend(fit.withdrawn)
                drafts.extend(scheduler.records.drafts(fit.new, now))
                moved.extend(fit.moved)
                cursors[job_id] = fit.cursor
            for job_id in changes.added:  # a held job with a stored cursor has it from release()
                cursors.setdefault(job_id, now)
            try:
                await scheduler.apply(drafts, deleted=withdrawn, cursors=cursors, moved=moved)
            except StoreError:  # not recorded: the jobs in force stay (the held ones held), as their runs do
                scheduler.jobs = in_force
                raise
            resume(scheduler, runs)
            scheduler.records.feed.publish_jobs(JobsChanged(
                added=tuple(fresh.jobs[job_id] for job_id in changes.added),
                changed=tuple(fresh.jobs[job_id] for job_id in changes.changed), removed=removed))
            for job_id in (*changes.added, *changes.changed):
                scheduler.topup_soon(job_id)
            return ReloadResult(added=changes.added, changed=changes.changed, removed=removed, applied=True)
