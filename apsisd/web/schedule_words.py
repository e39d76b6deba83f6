"""A schedule in a few words, for the jobs list: 'every 5 min', 'cron */15 9-17 * * Mon-Fri (Europe/London)',
'daily 09:30 (UTC)'. Read from the parsed schedule, never the job's file (a list of 10,000 jobs reads no file);
a type this module does not know is shown by its name."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from apsisd.jobs.model import Job
from apsisd.schedules.base import Schedule
from apsisd.web.views import duration


def _zone(schedule: Any) -> str:
    zone = getattr(schedule, "tz", None) or getattr(schedule, "timezone", None)
    return f" ({getattr(zone, 'key', zone)})" if zone else ""


def _every(interval: timedelta) -> str:
    seconds = interval.total_seconds()
    for size, word in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"every {seconds // size:.0f} {word}"
    return f"every {duration(seconds)}"


def words(schedule: Schedule) -> str:
    kind = schedule.type_name
    found: Any = schedule
    if kind == "interval":
        text = _every(found.interval)
    elif kind == "cron":
        text = f"cron {found.expr.text}{_zone(found)}"
    elif kind == "daily":
        text = f"daily {', '.join(t.strftime('%H:%M') for t in found.daytimes)}{_zone(found)}"
    elif kind == "on-calendar":
        text = f"on calendar {found.expr}{_zone(found)}"
    elif kind == "explicit":
        text = f"{len(found.instants)} set instants"
    elif kind == "daily-interval":
        text = f"{_every(found.interval)} from {found.start.daytime:%H:%M} to {found.stop.daytime:%H:%M}{_zone(found)}"
    else:
        text = kind
    return text if schedule.enabled else f"{text} (disabled)"


def summary(job: Job) -> str:
    """Every schedule of the job in words, '; ' between; 'no schedule' (runs only when asked for)."""
    return "; ".join(words(schedule) for schedule in job.schedules) or "no schedule"
