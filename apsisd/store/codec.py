"""Runs, log lines and cursors as SQLite rows, and back: the one place that knows the columns' encodings.

Times are integer microseconds since the Unix epoch, UTC: exact for every
aware datetime (a float would round), ordered and compared as integers.
Args are canonical JSON (sorted keys, no spaces), so "the same args" is a
comparison of text and an index can find them. A run's number is its row id.
The bench fills its database through this module too, so its rows are the
store's rows.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.errors import StoreError
from apsisd.runs.model import LogEntry, Origin, Run, run_id, run_number
from apsisd.runs.state import State

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# The runs table's columns, in the order of encode_run's tuple; decode_run reads all but `updated`.
RUN_COLUMNS = (
    "id", "job_id", "args", "state", "schedule_time", "times", "origin", "attempt", "previous", "reason",
    "stop_time", "spec", "unit", "invocation_id", "exit_code", "signal", "result", "cpu_time_ns",
    "memory_peak", "lateness", "host", "updated",
)
READ_COLUMNS = RUN_COLUMNS[:-1]
LOG_COLUMNS = ("run_id", "time", "state", "message")
MAX_NUMBER = 2**63 - 1  # SQLite's largest integer: a run id above it names no row (and cannot be bound)

Row = tuple[Any, ...]


def encode_time(moment: datetime, what: str) -> int:
    """Microseconds since the epoch; StoreError for a naive datetime (`what` names it in the message)."""
    if moment.utcoffset() is None:
        raise StoreError(f"{what} is a naive datetime ({moment.isoformat()}); the store keeps aware times only")
    return (moment - EPOCH) // _MICROSECOND


def decode_time(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def encode_args(args: Mapping[str, str]) -> str:
    """Canonical JSON: equal args give equal text."""
    return _dumps(dict(args))


def encode_run(run: Run, updated: datetime) -> Row:
    """The row of `run` as written at `updated`, in RUN_COLUMNS order."""
    where = f"run {run.id}"
    times = {str(state): encode_time(moment, f"{where}: times.{state}") for state, moment in run.times.items()}
    return (
        encode_id(run.id),
        run.job_id,
        encode_args(run.args),
        str(run.state),
        encode_time(run.schedule_time, f"{where}: schedule_time"),
        _dumps(times),
        str(run.origin),
        run.attempt,
        None if run.previous is None else encode_id(run.previous),
        run.reason,
        None if run.stop_time is None else encode_time(run.stop_time, f"{where}: stop_time"),
        None if run.spec is None else encode_spec(run.spec),
        run.unit,
        run.invocation_id,
        run.exit_code,
        run.signal,
        run.result,
        run.cpu_time_ns,
        run.memory_peak,
        run.lateness,
        run.host,
        encode_time(updated, f"{where}: updated"),
    )


def decode_run(row: Row) -> Run:
    """The Run of a row read in READ_COLUMNS order; StoreError if the row is not one the store writes."""
    (number, job, args, state, schedule_time, times, origin, attempt, previous, reason, stop_time, spec, unit,
     invocation_id, exit_code, signal, result, cpu_time_ns, memory_peak, lateness, host) = row
    try:
        return Run(
            id=run_id(number),
            job_id=JobId(job),
            args=MappingProxyType(json.loads(args)),
            state=State(state),
            schedule_time=decode_time(schedule_time),
            times=MappingProxyType({State(name): decode_time(t) for name, t in json.loads(times).items()}),
            origin=Origin(origin),
            attempt=attempt,
            previous=None if previous is None else run_id(previous),
            reason=reason,
            stop_time=None if stop_time is None else decode_time(stop_time),
            spec=None if spec is None else decode_spec(spec),
            unit=unit,
            invocation_id=invocation_id,
            exit_code=exit_code,
            signal=signal,
            result=result,
            cpu_time_ns=cpu_time_ns,
            memory_peak=memory_peak,
            lateness=lateness,
            host=host,
        )
    except (ValueError, TypeError) as exc:
        raise StoreError(f"stored run r{number} cannot be read ({exc}); the database was changed by hand?") from exc


def encode_spec(spec: RunSpec) -> str:
    """Every field of the spec as JSON: tuples become lists, mappings objects."""
    return _dumps({f.name: _plain(getattr(spec, f.name)) for f in dataclasses.fields(RunSpec)})


def decode_spec(text: str) -> RunSpec:
    """The RunSpec of encode_spec's JSON: lists become tuples again, objects read-only mappings."""
    fields = {name: _frozen(value) for name, value in json.loads(text).items()}
    return RunSpec(**fields)


def encode_log(entry: LogEntry) -> Row:
    where = f"log of run {entry.run_id}"
    state = None if entry.state is None else str(entry.state)
    return encode_id(entry.run_id), encode_time(entry.time, f"{where}: time"), state, entry.message


def decode_log(row: Row) -> LogEntry:
    number, time, state, message = row
    return LogEntry(run_id=run_id(number), time=decode_time(time), message=message,
                    state=None if state is None else State(state))


def number_of(run: str) -> int | None:
    """The row id of a run id ('r12' -> 12); None unless it is exactly as run_id() writes one ('r012' is not) and
    a row id can be that large."""
    try:
        number = run_number(RunId(run))
    except (ValueError, TypeError, IndexError):
        return None
    return number if 0 < number <= MAX_NUMBER and run_id(number) == run else None


def encode_id(run: RunId) -> int:
    """The row id of a run id; StoreError if it is not one run_id() could have made."""
    number = number_of(run)
    if number is None:
        raise StoreError(f"run id {run!r} is not of the form r<number> (r1, r2, ...)")
    return number


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return value


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
