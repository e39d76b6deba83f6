"""A run: one execution of a job with its args, and the record of what happened to it.

A Run is a value: every change makes a new one (`transition`, `replace`), and
the store keeps the latest with each step in the run's log. What the host
reported (unit, InvocationID, exit code, systemd's Result, CPU time) is kept
on the run so an operator never needs the journal to know how a run ended.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.runs.state import State, check_mark, check_transition


class Origin(enum.StrEnum):
    """Who asked for the run."""

    SCHEDULE = "schedule"  # one of the job's schedules
    MANUAL = "manual"  # an operator, for a job of the folder
    ADHOC = "adhoc"  # an operator, with a program of their own
    RERUN = "rerun"  # an operator, again for a run that exists
    ACTION = "action"  # another run's action (schedule, successors)
    RETRY = "retry"  # the job's retry policy, after a failed attempt


EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One run as stored.

    `times` holds when the run entered each state it has been in (the latest
    entry when a state repeats cannot happen: the table has no cycles).
    `previous` links an attempt to the run it retries, a rerun to the run it
    repeats, an action's run to the run whose action made it. `spec` is the
    program as bound for this run, fixed when it starts, so a restart follows
    the run that was started, not the job as it reads now. `lateness` is the
    program's start minus `schedule_time`, in seconds. `host` is the host it runs on (`local`: apsisd's own), set
    when it is bound, in the same commit as `starting`, so every later step (events, stop, output, recovery) goes
    to that host; before that it is None (the job's `host:` decides then), or the host or group an ad hoc run was
    asked to run on.
    """

    id: RunId
    job_id: JobId
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    state: State = State.NEW
    schedule_time: datetime
    times: Mapping[State, datetime] = field(default_factory=lambda: EMPTY)
    origin: Origin = Origin.SCHEDULE
    attempt: int = 1
    previous: RunId | None = None
    reason: str = ""
    stop_time: datetime | None = None
    spec: RunSpec | None = None
    unit: str | None = None
    invocation_id: str | None = None
    exit_code: int | None = None
    signal: str | None = None
    result: str | None = None
    cpu_time_ns: int | None = None
    memory_peak: int | None = None
    lateness: float | None = None
    host: str | None = None

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def instance(self) -> tuple[JobId, tuple[tuple[str, str], ...]]:
        """The job and args, hashable: what dependency, max_running and skip_duplicate match on."""
        return self.job_id, tuple(sorted(self.args.items()))


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One line of a run's log: a transition (with the state it entered) or a message."""

    run_id: RunId
    time: datetime
    message: str
    state: State | None = None


def transition(run: Run, state: State, time: datetime, reason: str = "", **changes: Any) -> tuple[Run, LogEntry]:
    """The run in `state` as of `time`, and the log line that records why; TransitionError if not allowed."""
    check_transition(run.id, run.state, state)
    return _enter(run, state, time, reason, changes)


def mark(run: Run, state: State, time: datetime, reason: str) -> tuple[Run, LogEntry]:
    """A finished run recorded as another finished state, by an operator's decision."""
    check_mark(run.id, run.state, state)
    return _enter(run, state, time, f"marked as {state}: {reason}" if reason else f"marked as {state}", {})


def _enter(run: Run, state: State, time: datetime, reason: str, changes: dict[str, Any]) -> tuple[Run, LogEntry]:
    times = {**run.times, state: time}
    moved = replace(run, state=state, times=MappingProxyType(times), reason=reason, **changes)
    return moved, LogEntry(run_id=run.id, time=time, message=reason or str(state), state=state)


def run_number(run_id: RunId) -> int:
    """123 for 'r123': run ids are the store's row numbers, so they sort and index as integers."""
    return int(run_id[1:])


def run_id(number: int) -> RunId:
    return RunId(f"r{number}")
