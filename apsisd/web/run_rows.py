"""The runs table's rows as HTML, written in Python: Jinja2's macros took 30 ms for a page of 100 runs, most of the
runs page's time; this takes under 2. The markup is the one static/runs.js builds for a row it adds live, and
every value in it is escaped here.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from html import escape

from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.web.views import duration, iso, utc

LATE_AFTER = 10.0  # seconds past its time after which a run not yet started is marked late (static/time.js: LATE)
LATE_STARTED = 60.0  # a run that started this many seconds late keeps a mark
NOT_STARTED = (State.SCHEDULED, State.WAITING)
NOW_LINE = '<tr class="now"><td colspan="20"><span>now</span></td></tr>\n'


def when(moment: datetime | None, zone: str | None) -> str:
    """A <time> the browser rewrites in the reader's zone (static/time.js)."""
    if moment is None:
        return ""
    zoned = f' data-zone="{escape(zone)}"' if zone else ""
    return f'<time datetime="{iso(moment)}"{zoned}>{utc(moment)}</time>'


def state(run: Run) -> str:
    return f'<span class="state state-{run.state}">{run.state}</span>'


def late(run: Run, now: datetime) -> str:
    """How late a run not yet started is (ticking in the browser), or a mark on one that started late."""
    if run.state in NOT_STARTED:
        behind = (now - run.schedule_time).total_seconds()
        shown = f"late {duration(behind)}" if behind > LATE_AFTER else ""
        return f'<span class="late" data-due="{iso(run.schedule_time)}">{shown}</span>'
    if run.lateness is not None and run.lateness > LATE_STARTED:
        return f'<span class="late" title="started {duration(run.lateness)} after its time">late</span>'
    return ""


def elapsed(run: Run, now: datetime) -> str:
    began = run.times.get(State.RUNNING) or run.times.get(State.STARTING)
    if began is None:
        return ""
    ended = run.times.get(run.state) if run.state.finished else None
    until = f' data-until="{iso(ended)}"' if ended else ""
    return f'<span data-since="{iso(began)}"{until}>{duration(((ended or now) - began).total_seconds())}</span>'


def origin(run: Run) -> str:
    if run.origin is Origin.ADHOC:
        return '<span class="tag adhoc" title="an ad hoc run: a program of an operator\'s own">ad hoc</span>'
    return "" if run.origin is Origin.SCHEDULE else f'<span class="tag">{run.origin}</span>'


def outcome(run: Run) -> str:
    if run.exit_code is not None:
        return f"exit {run.exit_code}"
    if run.signal:
        return escape(run.signal)
    return escape(run.result) if run.result and run.result != "success" else ""


def rows(runs: Sequence[Run], *, now: datetime, columns: Sequence[str], zones: Mapping[str, str],
         job_link: Callable[[str], str], now_at: int | None) -> str:
    """The rows of `runs`, with the line at now before the `now_at`-th (None: no line); `job_link` gives the
    link of a job's name (the page's filters, with that job)."""
    out = []
    for index, run in enumerate(runs):
        if index == now_at:
            out.append(NOW_LINE)
        zone = zones.get(run.job_id)
        if columns:
            args = "".join(f"<td>{escape(run.args.get(column, ''))}</td>" for column in columns)
        else:
            args = ('<td class="hide-narrow mono">'
                    + "".join(f"{escape(name)}={escape(value)} " for name, value in run.args.items()) + "</td>")
        began = run.times.get(State.RUNNING) or run.times.get(State.STARTING)
        out.append(
            f'<tr data-run-id="{run.id}" data-state="{run.state}" data-time="{iso(run.schedule_time)}">'
            f'<td><a href="/runs/{run.id}">{run.id}</a></td>'
            f'<td><a href="{escape(job_link(run.job_id))}">{escape(run.job_id)}</a> {origin(run)}</td>{args}'
            f'<td class="state-cell">{state(run)} {late(run, now)}</td>'
            f"<td>{when(run.schedule_time, zone)}</td>"
            f'<td class="hide-narrow">{when(began, zone)}</td>'
            f'<td class="elapsed">{elapsed(run, now)}</td>'
            f'<td class="hide-narrow">{escape(run.host or "")}</td>'
            f'<td class="hide-narrow outcome">{outcome(run)}</td></tr>\n')
    if now_at is not None and now_at == len(runs):
        out.append(NOW_LINE)
    return "".join(out)
