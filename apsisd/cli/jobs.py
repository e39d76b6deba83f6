"""`apsis jobs` and `apsis job ID`: the jobs apsisd has loaded, as it sees them."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

import click

from apsisd.cli.complete import job_ids
from apsisd.cli.render import (
    NONE,
    flow,
    line,
    pairs,
    plural,
    print_answer,
    print_json,
    print_table,
    readable,
    table,
    when,
)
from apsisd.cli.run_view import RUN_HEADERS, row
from apsisd.cli.session import Session, fails_cleanly, json_option, pass_session, utc_option

JOB_HEADERS = ("JOB", "SCHEDULES", "PARAMS", "LABELS", "DESCRIPTION")
Job = Mapping[str, Any]


@click.command("jobs")
@click.option("--path", metavar="PREFIX", help="Only the jobs under PREFIX: 'etl/' the folder, 'etl' also job etl.")
@click.option("--label", "labels", metavar="LABEL", multiple=True, help="Only jobs with this label (repeatable: all).")
@click.option("--no-legend", is_flag=True, help="Leave out the column headers and the count.")
@json_option()
@pass_session
@fails_cleanly
def jobs(session: Session, path: str | None, labels: tuple[str, ...], no_legend: bool, as_json: bool) -> None:
    """List the jobs apsisd has loaded, sorted by id."""
    query = [("path", path)] if path else []
    body = session.client.get("/api/v1/jobs", [*query, *(("label", label) for label in labels)])
    if as_json:
        print_json(body)
        return
    loaded = readable(body)["jobs"]
    print_table(JOB_HEADERS, (_job_row(job) for job in loaded), session.style, legend=not no_legend,
                summary=f"{plural(len(loaded), 'job')} listed.")


@click.command("job")
@click.argument("job_id", metavar="JOB", shell_complete=job_ids)
@json_option()
@utc_option
@pass_session
@fails_cleanly
def job(session: Session, job_id: str, as_json: bool) -> None:
    """Show JOB as apsisd has loaded it: its fields, its next runs from its schedules, its runs not yet started."""
    body = session.client.get(f"/api/v1/jobs/{job_id}")
    shown = readable(body)
    print_answer(body, as_json, _job_lines(shown["job"], shown.get("next", []), session.zone))
    if as_json:
        return
    scheduled = shown.get("scheduled", [])
    click.echo(f"\nScheduled runs: {len(scheduled) or 'none'}")
    now = datetime.now(UTC)
    for text in table(RUN_HEADERS, (row(run, session.zone, now) for run in scheduled), session.style,
                      legend=bool(scheduled)):
        click.echo(text)


def _job_row(job: Job) -> tuple[str, ...]:
    metadata = job.get("metadata") or {}
    return (job["job_id"], ", ".join(_schedule_kinds(job.get("schedules", []))) or NONE,
            ", ".join(job.get("params", [])) or NONE, ", ".join(metadata.get("labels", [])) or NONE,
            metadata.get("description") or NONE)


def _schedule_kinds(schedules: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """`daily`, `interval (with stop)`, `cron (disabled)`: each schedule's type as the jobs list shows it."""
    for schedule in schedules:
        start = schedule.get("start")
        kind = str(schedule.get("type") or (start.get("type") if isinstance(start, Mapping) else "?"))
        if isinstance(start, Mapping):
            kind += " (with stop)"
        yield kind + (" (disabled)" if schedule.get("enabled") is False else "")


def _job_lines(job: Job, upcoming: Sequence[Mapping[str, Any]], zone: tzinfo) -> Iterator[str]:
    metadata = dict(job.get("metadata") or {})
    yield line("Job", job["job_id"])
    yield line("Description", metadata.pop("description", None) or NONE)
    yield line("Labels", ", ".join(metadata.pop("labels", [])) or NONE)
    yield line("Params", ", ".join(job.get("params", [])) or NONE)
    for label, key in (("Schedules", "schedules"), ("Conditions", "conditions"), ("Actions", "actions")):
        yield from _each(label, job.get(key, []))
    for label, key in (("Program", "program"), ("Retry", "retry"), ("Scheduling", "scheduling")):
        if job.get(key):
            yield line(label, flow(job[key]))
    for name, value in metadata.items():
        yield line(name, flow(value))
    if not upcoming:
        yield line("Next elapse", "never (no enabled schedule gives a time from now)")
    for number, due in enumerate(upcoming, start=1):
        args = pairs(due.get("args", {}))
        yield line("Next elapse" if number == 1 else f"Iter. #{number}",
                   when(due["time"], zone) + ("" if args == NONE else f"  {args}"))


def _each(label: str, values: Sequence[Any]) -> Iterator[str]:
    """One line per value, the label on the first (`none` when there is no value)."""
    if not values:
        yield line(label, "none")
    for number, value in enumerate(values):
        yield line(label if number == 0 else "", flow(value))


commands = (jobs, job)
