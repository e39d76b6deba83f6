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
from datetime import datetime

from agentd.types import JobId, RunId
from apsisd.jobs.model import Job
from apsisd.runs.model import Run
from apsisd.scheduler.plan import Fit, fit, made_for
from apsisd.scheduler.service import Scheduler


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
    before = [run for job_id in job_ids for run in ledger.active(job_id) if made_for(run, now)]
    stored = await scheduler.records.store.finished_ahead(now)
    found: dict[RunId, Run] = {run.id: run for run in before if ledger.get(run.id) is None}
    found.update((run.id, run) for run in stored if run.job_id in job_ids and made_for(run, now))
    by_job: dict[JobId, list[Run]] = {}
    for run in found.values():
        by_job.setdefault(run.job_id, []).append(run)
    return by_job


def refit(scheduler: Scheduler, job: Job, now: datetime, why: str, finished: Sequence[Run]) -> Fit:
    """plan.fit() of the job's runs in the ledger and its `finished` ones (from finished_ahead()), by its policy."""
    return fit(job, scheduler.policy(job), now, scheduler.ledger.active(job.id), finished, why)
