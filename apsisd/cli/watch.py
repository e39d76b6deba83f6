"""`apsis watch`: runs as they change, live, from apsisd's event stream (GET /api/v1/events, server-sent events).

One line per change. When the connection drops (apsisd restarting), it
says so, tries again every half second, and resumes where it was
(Last-Event-ID): apsisd replays what it missed, exactly or as each run's
latest state. Ctrl-C ends it quietly.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

import click

from apsisd.cli.client import Unreachable
from apsisd.cli.complete import job_ids
from apsisd.cli.render import Cell, Style, json_text, pairs, readable, when
from apsisd.cli.run_view import ending, state_cell
from apsisd.cli.session import Session, fails_cleanly, pass_session, utc_option, warn
from apsisd.cli.sse import Event, EventReader
from apsisd.runs.state import State

RETRY = 0.5  # seconds between attempts to reach apsisd again
SILENCE = 45.0  # seconds without a byte (apsisd sends a keepalive every 15) before the connection counts as lost
RUN_WIDTH = 8
STATE_WIDTH = max(len(state) for state in State)
RESUMED = {"exact": "resumed exactly where it was",
           "changes": "resumed with each run changed meanwhile, in its latest state",
           "none": "starting over from what is there now"}


@click.command("watch")
@click.option("--job", "prefix", metavar="PREFIX", shell_complete=job_ids,
              help="Only the runs of jobs whose id starts with PREFIX (etl/: the folder).")
@click.option("-n", "--recent", type=click.IntRange(0, 10_000), default=10, show_default=True,
              help="First show this many of the newest finished runs (with every run in flight).")
@click.option("--json", "as_json", is_flag=True, help="Print each event as a JSON line: {event, id, data}.")
@utc_option
@pass_session
@fails_cleanly
def watch(session: Session, prefix: str | None, recent: int, as_json: bool) -> None:
    """Follow runs as they change: first those in flight and the newest finished, then a line per change.

    Keeps going across apsisd's restarts (saying so on stderr); Ctrl-C ends it.
    """
    try:
        for event in _events(session, prefix, recent):
            if as_json:
                click.echo(json_text({"event": event.name, "id": int(event.id) if event.id else None,
                                      "data": json.loads(event.data)}))
                continue
            for text in _lines(event, session.zone, session.style):
                click.echo(text)
    except KeyboardInterrupt:
        pass  # Ctrl-C: the end the operator asked for


def _events(session: Session, prefix: str | None, recent: int) -> Iterator[Event]:
    """The stream's events, across reconnects; Unreachable only if apsisd cannot be reached at the start."""
    client = session.client
    query = [("recent", str(recent)), *([("job", prefix)] if prefix else [])]
    seq: str | None = None
    lost: str | None = None
    connected = False
    while True:
        try:
            with client.stream("/api/v1/events", query, {"Last-Event-ID": seq} if seq else {},
                               timeout=SILENCE) as response:
                connected, reader = True, EventReader()
                for text in client.lines(response):
                    event = reader.feed(text)
                    if event is None:
                        continue
                    if event.name == "hello":
                        hello = json.loads(event.data)
                        if lost is not None:
                            warn(f"reached apsisd again; {RESUMED.get(hello.get('resume'), 'resumed')}")
                            lost = None
                        if hello.get("resume") == "none":
                            seq = str(hello["seq"])
                    seq = event.id or seq
                    yield event
            why = "apsisd ended the stream"
        except Unreachable as exc:
            if not connected:
                raise
            why = str(exc)
        if lost is None:
            warn(f"{why}; trying again every {RETRY:g}s")
            lost = why
        time.sleep(RETRY)


def _lines(event: Event, zone: tzinfo, style: Style) -> Iterator[str]:
    data = readable(json.loads(event.data))
    if event.name == "snapshot":
        for run in sorted(data.get("runs", []), key=lambda run: int(run["run_id"].lstrip("r") or 0)):
            yield _run_line(run, zone, style)
    elif event.name == "run":
        yield _run_line(data, zone, style)
    elif event.name == "run_deleted":
        yield f"{when(datetime.now(UTC), zone)}  {data['run_id']:<{RUN_WIDTH}}  withdrawn (by a reload)"
    elif event.name == "jobs" and not data.get("all"):
        for key in ("added", "changed", "removed"):
            names = [item if isinstance(item, str) else item["job_id"] for item in data.get(key, [])]
            if names:
                yield f"{when(datetime.now(UTC), zone)}  jobs {key}: {', '.join(names)}"


def _run_line(run: Mapping[str, Any], zone: tzinfo, style: Style) -> str:
    """`Mon 2026-03-09 14:02:11 CET  r10004    failure    etl/load date=2026-03-09  exit 3`."""
    state = State(run["state"])
    times = run.get("times", {})
    moment = times.get(state) or times.get("schedule")
    args = pairs(run.get("args", {}))
    text = f"{run['job_id']}" + ("" if args == "-" else f" {args}")
    if state is State.SCHEDULED:
        text += f"  due {when(times.get('schedule'), zone)}"
    elif state.finished:
        shown = ending(run)
        text += ("" if shown == "-" else f"  {shown}") + (f"  ({run['reason']})" if run.get("reason") and state in (
            State.ERROR, State.SKIPPED) else "")
    return (f"{when(moment, zone)}  {style.paint(Cell(run['run_id']), RUN_WIDTH)}  "
            f"{style.paint(state_cell(run), STATE_WIDTH)}  {text}")


commands = (watch,)
