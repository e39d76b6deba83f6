"""A job's `retry:`: when a finished run is tried again, and after how long.

    retry:
      count: 3              # retries after the first attempt (required, at least 1)
      delay: 30s            # before the first retry; default 0
      backoff: 2            # each further retry waits this many times longer; default 1
      max_delay: 10m        # the wait never exceeds this; default: no bound
      on: [failure, timeout, oom]   # the default; `error` may be added

A retry is a new run (origin `retry`, `previous` the attempt it retries,
`attempt` one more), so each attempt keeps its own record. `error` is not
retried unless asked: it means apsis did not run the program as written
(a template that fails, a refused start, a condition that ended the run,
too long a wait), and that mostly happens again the same way.
Pure functions: when a run fails, the scheduler asks reason_class(run) whether `on` names it, then
next_attempt_delay() how long to wait (None: the attempts are used up).
"""
from __future__ import annotations

import enum
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apsisd.errors import invalid
from apsisd.fields import Fields, describe, each
from apsisd.quantities import parse_duration
from apsisd.runs.model import Run
from apsisd.runs.state import State

MAX_COUNT = 1000
MAX_BACKOFF = sys.float_info.max
MAX_DELAY = 365 * 86400.0  # what a wait is cut to when backoff would make it longer (a float overflows otherwise)


class Reason(enum.StrEnum):
    """Why a run did not succeed, as `on:` names it."""

    FAILURE = "failure"  # the program failed (exit code, signal, core dump...)
    TIMEOUT = "timeout"  # the program ran past its timeout
    OOM = "oom"  # the kernel's OOM killer ended it
    ERROR = "error"  # apsis could not run it as asked


RETRIED = frozenset({Reason.FAILURE, Reason.TIMEOUT, Reason.OOM})
# systemd's Result values with a class of their own; any other failure is a plain failure.
RESULTS = {"timeout": Reason.TIMEOUT, "oom-kill": Reason.OOM}


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    count: int
    delay: float = 0.0
    backoff: float = 1.0
    max_delay: float | None = None
    on: frozenset[Reason] = RETRIED


def reason_class(run: Run) -> Reason | None:
    """Why a finished run did not succeed; None if it succeeded or was skipped (or has not finished)."""
    if run.state is State.ERROR:
        return Reason.ERROR
    if run.state is State.FAILURE:
        return RESULTS.get(run.result or "", Reason.FAILURE)
    return None


def next_attempt_delay(retry: Retry, attempt: int) -> float | None:
    """Seconds before the attempt after attempt number `attempt` (the first is 1); None after the last
    (attempt count + 1)."""
    if attempt > retry.count:
        return None
    try:
        grown = retry.delay * retry.backoff ** (attempt - 1)
    except OverflowError:
        grown = math.inf
    return min(grown, MAX_DELAY if retry.max_delay is None else retry.max_delay)


def parse_retry(value: Any) -> Retry:
    """A job file's `retry:` mapping."""
    if not isinstance(value, Mapping):
        raise invalid(f"must be a mapping such as {{count: 3, delay: 1m, backoff: 2}}, not {describe(value)}")
    fields = Fields(value, "retry")
    parsed = Retry(count=fields.take("count", _count), delay=fields.take("delay", parse_duration, 0.0),
                   backoff=fields.take("backoff", _backoff, 1.0),
                   max_delay=fields.take("max_delay", _max_delay, None),
                   on=fields.take("on", _on, RETRIED))
    if parsed.max_delay is not None and parsed.max_delay < parsed.delay:
        fields.problems.append((("max_delay",), f"must be at least delay ({parsed.delay:g} s): the first retry "
                                                "would wait longer than any other"))
    fields.done()
    return parsed


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise invalid(f"must be a whole number of retries from 1 to {MAX_COUNT}, not {describe(value)}")
    return value


def _backoff(value: Any) -> float:
    # Below MAX_BACKOFF, not just below inf: an int of 400 digits is finite, yet no float holds it.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= MAX_BACKOFF:
        raise invalid(f"must be a number at least 1 (1: every retry waits `delay`; 2: each waits twice as long as "
                      f"the one before), not {describe(value)}")
    return float(value)


def _max_delay(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise invalid("must be a duration above zero, such as 10m or 1h")
    return seconds


def _reason(value: Any) -> Reason:
    try:
        return Reason(value)
    except ValueError:
        raise invalid(f"must be one of {', '.join(Reason)}, not {describe(value)}") from None


_REASONS = each(_reason)


def _on(value: Any) -> frozenset[Reason]:
    if value == []:
        raise invalid(f"must name at least one of {', '.join(Reason)} (to never retry, remove retry:)")
    return frozenset(_REASONS(value))
