"""apsisd's own state: `status` (is it up and scheduling), `check` (the sanity report: what looks wrong) and `hosts`
(each host it drives, reachable or not).

Both are for scripts and monitoring as much as for people: `status` exits 0
when apsisd is up and scheduling, 1 when it is up but not scheduling, 2
when it cannot be reached; `check` exits 1 when it finds anything.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import click

from apsisd.cli.render import NONE, Cell, duration, line, print_answer, print_json, readable, table, when
from apsisd.cli.run_view import RUN_HEADERS, row
from apsisd.cli.session import FOUND, Failed, Session, fails_cleanly, json_option, pass_session, utc_option
from apsisd.errors import InvalidFields
from apsisd.quantities import parse_duration

RUN_FINDINGS = (
    ("late", "Late runs: started more than --late after their time"),
    ("overdue", "Overdue runs: still scheduled, well past their time"),
    ("lost", "Lost runs: starting, running or stopping, with no unit on their host"),
    ("hostless", "Runs whose host is no longer in apsisd.toml (they wait for it)"),
)


@click.command("status")
@json_option()
@utc_option
@pass_session
@fails_cleanly
def status(session: Session, as_json: bool) -> None:
    """Say whether apsisd is up and scheduling, with its version, jobs and runs in flight.

    Exit status: 0 up and scheduling; 1 up, not scheduling, its state cannot be written, or its jobs folder has
    problems (jobs held); 2 not reachable.
    """
    reply = session.client.call("GET", "/api/v1/health", accept=frozenset({503}))
    health = reply.body
    scheduling = health.get("scheduling", health.get("status") == "ok") and reply.status == 200
    print_answer(health, as_json, _health_lines(session, readable(health), scheduling))
    if not scheduling or health.get("status") == "degraded":
        sys.exit(FOUND)


def _health_lines(session: Session, health: Mapping[str, Any], scheduling: bool) -> Iterator[str]:
    if scheduling and health.get("status") == "degraded":  # the jobs that load are scheduled; `check` says more
        word = Cell("up, scheduling, DEGRADED", "yellow", bold=True)
    elif scheduling:
        word = Cell("up, scheduling", "green")
    elif health.get("problem"):
        word = Cell("up, DEGRADED", "red", bold=True)
    else:
        word = Cell(f"up, NOT scheduling ({health.get('status')})", "red", bold=True)
    yield line("apsisd", session.style.paint(word))
    if health.get("problem"):
        yield line("Problem", str(health["problem"]))
    yield line("Address", str(session.client.address))
    if health.get("version"):
        yield line("Version", health["version"])
    started = health.get("started")
    if started:
        since = (datetime.now(UTC) - datetime.fromisoformat(started)).total_seconds()
        yield line("Started", f"{when(started, session.zone)}; {duration(since)} ago")
    yield line("Jobs", str(health.get("jobs", NONE)))
    yield line("Runs in flight", str(health.get("runs_in_flight", NONE)))


@click.command("check")
@click.option("--late", metavar="DURATION", help="A run that started this long after its time is late (90s, 5m) "
                                                 "[default: apsisd's, 1 minute].")
@click.option("--window", metavar="DURATION", help="How far back to look for late runs (6h, 2d) [default: apsisd's, "
                                                   "a day].")
@json_option()
@utc_option
@pass_session
@fails_cleanly
def check(session: Session, late: str | None, window: str | None, as_json: bool) -> None:
    """Ask apsisd what looks wrong: late, overdue and lost runs, units no run owns, jobs with no run created.

    Prints each finding and exits 1 if there is any; prints `no problems found` and exits 0 otherwise.
    """
    query = [(name, _seconds(name, text)) for name, text in (("late", late), ("window", window)) if text]
    report = session.client.get("/api/v1/check", query)
    if as_json:
        print_json(report)
    else:
        for text in _findings(session, readable(report)):
            click.echo(text)
    if not report.get("ok", True):
        sys.exit(FOUND)


def _findings(session: Session, report: Mapping[str, Any]) -> Iterator[str]:
    if report.get("ok", True):
        yield "no problems found"
        return
    now = datetime.now(UTC)
    for key, title in RUN_FINDINGS:
        if report.get(key):
            yield f"{title}:"
            yield from (f"  {text}" for text in table(
                RUN_HEADERS, (row(run, session.zone, now) for run in report[key]), session.style))
    units = report.get("orphan_units", [])
    if units:
        yield "Units with no run in flight:"
        yield from (f"  {text}" for text in table(
            ("UNIT", "RUN", "ACTIVE"), ((unit["unit"], unit.get("run_id") or NONE, unit.get("active_state") or NONE)
                                        for unit in units), session.style))
    for unlisted in report.get("unlisted_hosts", []):
        yield f"Host {unlisted['host']} could not list its units: {unlisted['problem']}"
    for skewed in report.get("skewed_hosts", []):
        yield f"Host {skewed['host']}'s clock is {skewed['clock_skew']:+.1f} s off apsisd's: its runs start by it"
    if report.get("unscheduled_jobs"):
        yield f"Jobs whose schedules give a time, with no run created: {', '.join(report['unscheduled_jobs'])}"
    if report.get("job_file_problems"):
        yield "Problems in the jobs folder (fix them, then reload):"
        yield from (f"  {problem}" for problem in report["job_file_problems"])
    if report.get("held_jobs"):
        yield f"Jobs held (not scheduled, their runs kept) until a reload reads their files: " \
              f"{', '.join(report['held_jobs'])}"


def _seconds(option: str, text: str) -> str:
    """A duration as apsisd takes it: whole seconds."""
    try:
        return str(round(parse_duration(text)))
    except InvalidFields as exc:
        raise Failed(f"--{option}: {exc.problems[0][1]}") from None


@click.command("hosts")
@json_option()
@utc_option
@pass_session
@fails_cleanly
def hosts(session: Session, as_json: bool) -> None:
    """List the hosts apsisd drives: reachable or not and since when, agentd's version, clock skew, runs under way.

    Exit status: 0 every host reachable; 1 one or more unreachable; 2 apsisd not reachable.
    """
    found = session.client.call("GET", "/api/v1/hosts").body
    print_answer(found, as_json, _host_lines(session, found))
    if any(host.get("state") != "reachable" for host in found):
        sys.exit(FOUND)


def _host_lines(session: Session, found: list[Mapping[str, Any]]) -> Iterator[str]:
    rows = []
    for host in found:
        reachable = host.get("state") == "reachable"
        state = Cell("reachable", "green") if reachable else Cell("UNREACHABLE", "red", bold=True)
        skew = host.get("clock_skew")
        rows.append((host["name"], host.get("kind") or NONE, state,
                     when(host.get("since"), session.zone) if host.get("since") else NONE,
                     host.get("agentd") or NONE, NONE if skew is None else f"{skew:+.3f} s",
                     str(host.get("runs_under_way", NONE))))
    yield from table(("HOST", "KIND", "STATE", "SINCE", "AGENTD", "CLOCK SKEW", "RUNS"), rows, session.style)
    for host in found:
        if host.get("problem"):
            yield f"{host['name']}: {host['problem']}"


commands = (status, check, hosts)
