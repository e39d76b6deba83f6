"""What a job is to do next: the instants its schedules give from now, and its runs not yet started (the API's
job and the job page show the same)."""
from __future__ import annotations

import itertools
from datetime import datetime

from agentd.types import JobId
from apsisd.jobs.model import Job
from apsisd.runs.model import Run, run_number
from apsisd.runs.state import State
from apsisd.scheduler.service import Scheduler
from apsisd.schedules.base import Due

NEXT = 10  # instants the schedules give next
MAX_SCHEDULED = 100  # of the runs not yet started
NOT_STARTED = (State.SCHEDULED, State.WAITING)


def upcoming(job: Job, now: datetime, count: int = NEXT) -> list[Due]:
    """The next `count` runs the job's enabled schedules give at or after `now`, in time order."""
    return list(itertools.islice(job.times(now), count))


def unstarted(scheduler: Scheduler, job_id: JobId, limit: int = MAX_SCHEDULED) -> list[Run]:
    """The job's runs created but not started (scheduled or waiting), by time, at most `limit`."""
    return sorted((run for run in scheduler.ledger.active(job_id) if run.state in NOT_STARTED),
                  key=lambda run: (run.schedule_time, run_number(run.id)))[:limit]
