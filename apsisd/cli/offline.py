"""The commands that need no daemon: check-jobs and next read the job files themselves, as apsisd would."""
from __future__ import annotations

import difflib
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from agentd.types import JobId
from apsisd.cli.defaults import folders, local_zone
from apsisd.cli.render import line, plural, when
from apsisd.cli.session import Failed, fails_cleanly
from apsisd.errors import InvalidFields
from apsisd.jobs.load import JOB_SUFFIX, load_jobs
from apsisd.jobs.model import Job, JobSet
from apsisd.quantities import parse_zone
from apsisd.schedules.base import Due, Schedule
from apsisd.text import escaped


@click.command("check-jobs")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@fails_cleanly
def check_jobs(folder: Path | None) -> None:
    """Check every job and calendar file in FOLDER (default: the configured jobs folder).

    Prints each problem as FILE:LINE: field: message and exits 1 if there is
    any; otherwise prints a one-line summary and exits 0.
    """
    job_set, folder = _load(folder)
    count = sum(len(job.schedules) for job in job_set.jobs.values())
    click.echo(f"{folder}: {plural(len(job_set.jobs), 'job')}, {plural(len(job_set.calendars), 'calendar')}, "
               f"{plural(count, 'schedule')}: no problems")


@click.command("next")
@click.argument("job_id")
@click.option("--jobs", "folder", type=click.Path(path_type=Path), metavar="DIR",
              help="The jobs folder (default: the configured one).")
@click.option("-n", "count", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many instants to show.")
@click.option("--from", "start", metavar="TIME",
              help="Start from this ISO 8601 time (without an offset: in --tz); default: now.")
@click.option("--tz", "zone", metavar="ZONE", help="Show times in this zone (default: the local one).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {time, args}.")
@fails_cleanly
def next_(job_id: str, folder: Path | None, count: int, start: str | None, zone: str | None, as_json: bool) -> None:
    """Show when JOB_ID's next runs are due, with their args, like systemd-analyze calendar."""
    shown = _zone(zone)
    since = _start(start, shown)
    job_set, folder = _load(folder)
    job = _job(job_set, job_id, folder)
    dues = list(itertools.islice(job.times(since), count))
    if as_json:
        click.echo(json.dumps([_as_json(due, shown) for due in dues], indent=2))
        return
    click.echo("\n".join(escaped(text) for text in _human(job, dues, since, shown)))  # ids and args: anyone's


def _load(folder: Path | None) -> tuple[JobSet, Path]:
    """The jobs of `folder` (only its own calendars), or of the configured folders."""
    if folder is not None:
        return load_jobs(folder), folder
    configured = folders()
    return load_jobs(configured.jobs, configured.calendars, configured.host_names), configured.jobs


def _zone(name: str | None) -> tzinfo:
    if name is None:
        return local_zone()
    try:
        return parse_zone(name)
    except InvalidFields as exc:
        raise Failed(f"--tz: {exc.problems[0][1]}") from None


def _start(text: str | None, zone: tzinfo) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Failed(f"--from: {text!r} is not an ISO 8601 time such as 2026-03-01T09:30 or "
                     "2026-03-01T09:30:00+01:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def _job(job_set: JobSet, job_id: str, folder: Path) -> Job:
    for candidate in (job_id, job_id.removesuffix(JOB_SUFFIX)):
        if candidate in job_set.jobs:
            return job_set.jobs[JobId(candidate)]
    close = difflib.get_close_matches(job_id, list(job_set.jobs), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise Failed(f"no job {job_id!r} in {folder}{hint}")


def _as_json(due: Due, zone: tzinfo) -> dict[str, Any]:
    entry: dict[str, Any] = {"time": due.time.astimezone(zone).isoformat(), "args": dict(due.args)}
    if due.stop is not None:
        entry["stop"] = due.stop.astimezone(zone).isoformat()
    return entry


def _human(job: Job, dues: list[Due], since: datetime, zone: tzinfo) -> Iterator[str]:
    kinds = ", ".join(_kind(schedule) + ("" if schedule.enabled else " (disabled)") for schedule in job.schedules)
    yield line("Job", job.id)
    yield line("Schedules", kinds or "none")
    yield line("From", when(since, zone))
    if not dues:
        yield line("Next elapse", "never (no enabled schedule gives a time from here)")
    for number, due in enumerate(dues, start=1):
        yield line("Next elapse" if number == 1 else f"Iter. #{number}", when(due.time, zone))
        if not _is_utc(zone):
            yield line("(in UTC)", when(due.time, UTC))
        if due.stop is not None:
            yield line("Stop", when(due.stop, zone))
        if due.args:
            yield line("Args", " ".join(f"{name}={value}" for name, value in due.args.items()))


def _kind(schedule: Schedule) -> str:
    """`daily`, or `daily (with stop)` for a stop schedule around a daily one."""
    start: Any = getattr(schedule, "start", None)
    return f"{start.type_name} (with stop)" if hasattr(start, "type_name") else schedule.type_name


def _is_utc(zone: tzinfo) -> bool:
    return isinstance(zone, ZoneInfo) and zone.key in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu")


commands = (check_jobs, next_)
