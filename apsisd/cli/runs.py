"""Looking at runs: `runs` (a filtered list), `show RUN` (its fields), `log RUN` (its history), `output RUN` (the
bytes its program wrote, followed live with -f)."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click

from apsisd.cli.complete import job_ids, run_ids
from apsisd.cli.render import Cell, line, plural, print_answer, print_json, print_table, readable, when
from apsisd.cli.run_view import COLOURS, RUN_HEADERS, details, row
from apsisd.cli.session import Failed, Session, fails_cleanly, json_option, pass_session, utc_option
from apsisd.cli.when import BadTime, parse_time
from apsisd.runs.model import Origin
from apsisd.runs.state import State

STATES = click.Choice([str(state) for state in State])
ORIGINS = click.Choice([str(origin) for origin in Origin])


@click.command("runs")
@click.option("--job", metavar="JOB", shell_complete=job_ids, help="Only this job's runs.")
@click.option("--path", metavar="PREFIX", help="Only the runs of jobs under PREFIX ('etl/'; 'etl' also job etl).")
@click.option("--state", "states", type=STATES, multiple=True, help="Only runs in this state (repeatable: any).")
@click.option("--label", "labels", metavar="LABEL", multiple=True, help="Only runs of jobs with this label "
                                                                        "(repeatable: all).")
@click.option("--arg", "args", metavar="K=V", multiple=True, help="Only runs with this arg (repeatable: all).")
@click.option("--host", "hosts", metavar="HOST", multiple=True, help="Only runs on this host (repeatable: any; "
                                                                     "local: apsisd's own).")
@click.option("--origin", "origins", type=ORIGINS, multiple=True, help="Only runs of this origin (repeatable: any).")
@click.option("--order", type=click.Choice(["id", "time"]), default="id", show_default=True,
              help="id: newest run first; time: latest schedule time first.")
@click.option("--since", metavar="TIME", help="Only runs scheduled at or after TIME (see TIME below).")
@click.option("--until", metavar="TIME", help="Only runs scheduled before TIME.")
@click.option("--changed-since", metavar="TIME", help="Only runs whose last change was at or after TIME.")
@click.option("--changed-until", metavar="TIME", help="Only runs whose last change was before TIME.")
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Show at most this many runs.")
@click.option("--before", metavar="RUN", help="Only runs older than RUN (the next page: the id the list ends with).")
@click.option("--no-legend", is_flag=True, help="Leave out the column headers and the count.")
@json_option()
@utc_option
@pass_session
@fails_cleanly
def runs(session: Session, job: str | None, path: str | None, states: tuple[str, ...], labels: tuple[str, ...],
         args: tuple[str, ...], hosts: tuple[str, ...], origins: tuple[str, ...], order: str, since: str | None,
         until: str | None, changed_since: str | None, changed_until: str | None, limit: int, before: str | None,
         no_legend: bool, as_json: bool) -> None:
    """List runs, newest first (or latest due first), as `systemctl list-units` lists units.

    TIME is `now`, +DURATION or -DURATION from now (-2h, -1d, +30m), a time of
    day today (HH:MM, local), or an ISO 8601 time (2026-03-09T14:00 local;
    2026-03-09T14:00:00+01:00; 2026-03-09 for its midnight).
    """
    query = [("limit", str(limit))]
    query += [(name, value) for name, value in (("job", job), ("path", path), ("before", before)) if value]
    query += [("state", state) for state in states] + [("label", label) for label in labels]
    query += [("host", host) for host in hosts] + [("origin", origin) for origin in origins]
    if order != "id":
        query.append(("order", order))
    for arg in args:
        if "=" not in arg:
            raise Failed(f"--arg: {arg!r} is not K=V, such as --arg date=2026-03-09")
        query.append(("arg", arg))
    now = datetime.now(UTC)
    bounds = {"since": since, "until": until, "changed_since": changed_since, "changed_until": changed_until}
    for name, text in bounds.items():
        if text is not None:
            try:
                moment = parse_time(text, now=now, zone=session.zone, upcoming=False)
            except BadTime as exc:
                raise Failed(f"--{name.replace('_', '-')}: {exc}") from None
            query.append((name, moment.isoformat()))
    body = session.client.get("/api/v1/runs", query)
    if as_json:
        print_json(body)
        return
    shown = readable(body)
    found = shown["runs"]
    more = f"; older ones: --before {shown['next']}" if shown.get("next") else ""
    print_table(RUN_HEADERS, (row(run, session.zone, now) for run in found), session.style, legend=not no_legend,
                summary=f"{plural(len(found), 'run')} listed{more}.")


@click.command("show")
@click.argument("run_id", metavar="RUN", shell_complete=run_ids())
@json_option()
@utc_option
@pass_session
@fails_cleanly
def show(session: Session, run_id: str, as_json: bool) -> None:
    """Show RUN's fields, times in the local zone (or UTC with --utc); what a run not started yet depends on."""
    run = session.client.get(f"/api/v1/runs/{run_id}")
    print_answer(run, as_json, details(readable(run), session.zone, datetime.now(UTC)))
    if not as_json and run["state"] in (State.SCHEDULED, State.WAITING):
        body = readable(session.client.get(f"/api/v1/runs/{run_id}/dependencies"))
        for number, dependency in enumerate(body.get("dependencies", [])):
            click.echo(line("Depends on" if number == 0 else "", _dependency(dependency)))


def _dependency(dependency: Mapping[str, Any]) -> str:
    """`etl/extract(date=2026-03-09) is success: not satisfied; its runs: r12, r9`, as the run's log words it."""
    args = ",".join(f"{name}={value}" for name, value in dependency.get("args", {}).items())
    target = f"{dependency['job_id']}({args}) is {' or '.join(dependency.get('states', []))}"
    if dependency.get("error"):
        return f"{target}: cannot tell: {dependency['error']}"
    runs = ", ".join(dependency.get("runs", [])) or "none yet"
    return f"{target}: {'satisfied' if dependency.get('satisfied') else 'not satisfied'}; its runs: {runs}"


@click.command("log")
@click.argument("run_id", metavar="RUN", shell_complete=run_ids())
@json_option()
@utc_option
@pass_session
@fails_cleanly
def log(session: Session, run_id: str, as_json: bool) -> None:
    """Show RUN's history, oldest first: each change of state and each note (who asked for what)."""
    body = session.client.get(f"/api/v1/runs/{run_id}/log")
    if as_json:
        print_json(body)
        return
    width = max(len(state) for state in State)
    for entry in readable(body)["log"]:
        state = entry.get("state") or ""
        painted = session.style.paint(Cell(state, COLOURS.get(State(state)) if state else None), width)
        click.echo(f"{when(entry['time'], session.zone)}  {painted}  {entry['message']}".rstrip())


@click.command("output")
@click.argument("run_id", metavar="RUN", shell_complete=run_ids())
@click.option("-f", "--follow", is_flag=True, help="Keep printing as the program writes, until the run ends (for a "
                                                   "run not started yet: from its start).")
@click.option("--stdout", "stream", flag_value="stdout", help="Only what it wrote to stdout (programs with output: "
                                                             "{split: true}).")
@click.option("--stderr", "stream", flag_value="stderr", help="Only what it wrote to stderr (likewise).")
@pass_session
@fails_cleanly
def output(session: Session, run_id: str, follow: bool, stream: str | None) -> None:
    """Print what RUN's program wrote, the bytes as written (stdout and stderr interleaved)."""
    query = [("stream", stream)] if stream else []
    if follow:
        query.append(("follow", "1"))
    out = sys.stdout.buffer
    client = session.client
    try:
        with client.stream(f"/api/v1/runs/{run_id}/output", query) as response:
            for chunk in client.chunks(response):
                out.write(chunk)
                out.flush()
            incomplete = response.getheader("Apsis-Output-Incomplete")
        if incomplete:
            click.echo(f"apsis: this output is incomplete: {incomplete}", err=True)
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a follow: nothing to say


commands = (runs, show, log, output)
