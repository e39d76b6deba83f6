"""How far ahead a job's runs are created, and what happens to the runs it missed while apsisd was down.

One set of fields serves a job file's `scheduling:` key and the `[schedule]`
table of apsisd.toml: in a job, a field left out means "the daemon's
default" (None here); the daemon's defaults fill them in (`over`).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from apsisd.errors import invalid
from apsisd.fields import Fields, describe
from apsisd.quantities import parse_duration

MAX_DURATION = 3650 * 86400.0  # 10 years: the longest horizon, max_age or other duration of these settings


class CatchUp(enum.StrEnum):
    """Which of the runs missed during downtime are started late; the others are recorded as skipped."""

    ALL = "all"
    LATEST = "latest"  # per job: only the runs due at the newest missed instant
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scheduling:
    """`horizon`: how far ahead runs are created (seconds); `max_scheduled`: at most this many future runs of
    the job at once; `catchup` and `max_age` (seconds; a missed run older than this is never started)."""

    horizon: float | None = None
    max_scheduled: int | None = None
    catchup: CatchUp | None = None
    max_age: float | None = None

    def over(self, defaults: Scheduling) -> Scheduling:
        """These settings, with the ones left out taken from `defaults`."""
        return Scheduling(
            horizon=defaults.horizon if self.horizon is None else self.horizon,
            max_scheduled=defaults.max_scheduled if self.max_scheduled is None else self.max_scheduled,
            catchup=defaults.catchup if self.catchup is None else self.catchup,
            max_age=defaults.max_age if self.max_age is None else self.max_age,
        )


UNSET = Scheduling()
# What an operator gets without saying: a day of runs ahead (so tomorrow's run can be skipped today), at most 10
# future runs per job (a job every second does not fill the store), and after downtime only the newest missed run
# of each job and args is started: a down night does not become a burst of every missed minute.
DEFAULTS = Scheduling(horizon=86400.0, max_scheduled=10, catchup=CatchUp.LATEST, max_age=None)


def read_scheduling(fields: Fields) -> Scheduling:
    """The scheduling keys of `fields` (a job's `scheduling:` or the config's `[schedule]`); problems go there."""
    return Scheduling(
        horizon=fields.take("horizon", positive_duration, None),
        max_scheduled=fields.take("max_scheduled", run_count, None),
        catchup=fields.take("catchup", parse_catchup, None),
        max_age=fields.take("max_age", positive_duration, None),
    )


def parse_scheduling(value: Any) -> Scheduling:
    """A job file's `scheduling:` mapping."""
    fields = Fields(value, "scheduling")
    parsed = read_scheduling(fields)
    fields.done()
    return parsed


def positive_duration(value: Any) -> float:
    """Seconds above zero, at most MAX_DURATION: `now` plus or minus it must stay a datetime (1e300 s or .inf
    overflowed timedelta in the scheduler, NaN made it raise), and nothing is planned further than that."""
    seconds = parse_duration(value)
    if not seconds > 0:  # NaN too
        raise invalid(f"must be a duration above zero such as 30m, 1d, not {describe(value)}")
    if seconds > MAX_DURATION:
        raise invalid(f"must be at most 3650d (10 years), not {describe(value)}")
    return seconds


def run_count(value: Any) -> int:
    """max_scheduled: a number of runs, 1 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"must be a whole number of runs, at least 1, not {describe(value)}")
    return value


def parse_catchup(value: Any) -> CatchUp:
    """catchup: one of CatchUp's names."""
    try:
        return CatchUp(value)
    except ValueError:
        raise invalid(f"must be one of {', '.join(CatchUp)}, not {describe(value)}") from None
