"""A run (the API's JSON) for people: its row in a table, its `show` lines, how it ended, and the exit status
`apsis run --wait` gives for it.

The exit statuses follow timeout(1): the program's own status, 128+N for a
program killed by signal N, 124 for a run that hit its time limit, 125 when
the run ended without its program's verdict (error, skipped) or apsis
itself failed.
"""
from __future__ import annotations

import signal as signals
from collections.abc import Iterator, Mapping
from datetime import datetime, tzinfo
from typing import Any

from apsisd.cli.render import NONE, Cell, duration, instant, line, pairs, size, when
from apsisd.runs.state import State

TIMED_OUT = 124  # as timeout(1)
NO_VERDICT = 125  # the run ended in error or was skipped, or apsis could not follow it
FAILED_OTHERWISE = 1  # failure with neither a status nor a signal (stopped, and exited 0)
COLOURS = {
    State.WAITING: "yellow", State.STARTING: "cyan", State.RUNNING: "cyan", State.STOPPING: "cyan",
    State.SUCCESS: "green", State.FAILURE: "red", State.ERROR: "red", State.SKIPPED: "magenta",
}
RUN_HEADERS = ("RUN", "STATE", "JOB", "ARGS", "SCHEDULED", "ELAPSED", "RESULT")
Run = Mapping[str, Any]


def state_cell(run: Run) -> Cell:
    state = State(run["state"])
    return Cell(state, COLOURS.get(state), bold=state is State.ERROR)


def row(run: Run, zone: tzinfo, now: datetime) -> tuple[str | Cell, ...]:
    """The run in the `runs` table: id, state, job, args, schedule time, how long it ran (or has run), result."""
    return (run["run_id"], state_cell(run), run["job_id"], pairs(run.get("args", {})),
            when(run["times"].get("schedule"), zone), duration(elapsed(run, now)), ending(run))


def elapsed(run: Run, now: datetime) -> float | None:
    """Seconds from its program's start to its end (or to `now` while it runs); None if it never started."""
    times = run.get("times", {})
    start = instant(times.get(State.RUNNING) or times.get(State.STARTING))
    if start is None:
        return None
    end = instant(next((times[state] for state in (State.SUCCESS, State.FAILURE, State.ERROR) if state in times),
                       None))
    if end is None and State(run["state"]).finished:
        return None
    return ((end or now) - start).total_seconds()


def ending(run: Run) -> str:
    """How a finished run ended, shortly: `exit 0`, `exit 3`, `signal TERM`, `timeout`; `-` before its end."""
    if not State(run["state"]).finished or run["state"] == State.SKIPPED:
        return NONE
    if run.get("result") == "timeout":
        return "timeout"
    if run.get("signal"):
        return f"signal {run['signal']}"
    if run.get("exit_code") is not None:
        return f"exit {run['exit_code']}"
    return run.get("result") or NONE


def exit_status(run: Run) -> int:
    """What `apsis run --wait` exits with for this finished run (see the module's docstring)."""
    state = State(run["state"])
    if state is State.SUCCESS:
        return 0
    if state in (State.ERROR, State.SKIPPED):
        return NO_VERDICT
    if run.get("result") == "timeout":
        return TIMED_OUT
    if run.get("signal"):
        number = _signal_number(run["signal"])
        return NO_VERDICT if number is None else 128 + number
    code = run.get("exit_code")
    return code if isinstance(code, int) and 0 < code < 256 else FAILED_OTHERWISE


def details(run: Run, zone: tzinfo, now: datetime) -> Iterator[str]:
    """The run's fields as `show` prints them, one `Label: value` line each; times in `zone`."""
    times = run.get("times", {})
    yield line("Run", run["run_id"])
    yield line("Job", run["job_id"])
    yield line("Args", pairs(run.get("args", {})))
    yield line("State", run["state"] + (f" ({run['reason']})" if run.get("reason") else ""))
    origin = run.get("origin", NONE)
    if run.get("previous"):
        origin += f" (after {run['previous']})"
    if (run.get("attempt") or 1) > 1:
        origin += f", attempt {run['attempt']}"
    yield line("Origin", origin)
    yield line("Schedule time", when(times.get("schedule"), zone))
    for state in State:
        if state in times:
            yield line(state.capitalize(), when(times[state], zone))
    if times.get("stop"):
        yield line("Stop time", when(times["stop"], zone))
    if run.get("lateness") is not None:
        yield line("Lateness", duration(run["lateness"]))
    if elapsed(run, now) is not None:
        yield line("Elapsed", duration(elapsed(run, now)))
    if State(run["state"]).finished:
        yield line("Result", _verdict(run))
    for label, key, show in (("Host", "host", str), ("Unit", "unit", str), ("Invocation", "invocation_id", str),
                             ("CPU time", "cpu_time_ns", lambda ns: duration(ns / 1e9)),
                             ("Memory peak", "memory_peak", size)):
        if run.get(key) is not None:
            yield line(label, show(run[key]))


def _verdict(run: Run) -> str:
    """`exit 3 (systemd: exit-code)`: the ending and systemd's own word for it."""
    shown = ending(run)
    result = run.get("result")
    return f"{shown} (systemd: {result})" if result and result != shown else shown


def _signal_number(name: str) -> int | None:
    try:
        return int(signals.Signals[f"SIG{name.upper().removeprefix('SIG')}"])
    except KeyError:
        return None
