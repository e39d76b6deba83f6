"""A job's zone: the time zone its schedules are read in, which the page's tooltips show beside local and UTC."""
from __future__ import annotations

from apsisd.jobs.model import Job


def job_zone(job: Job) -> str | None:
    """The zone of the job's first schedule that names one (cron's `tz`, a calendar event's zone); None: UTC."""
    for schedule in job.schedules:
        zone = getattr(schedule, "tz", None) or getattr(schedule, "timezone", None)
        if zone is not None:
            return str(getattr(zone, "key", zone))
    return None
