"""The `cron` schedule: a crontab expression read as wall-clock time in a zone.

    schedule: {type: cron, expr: "*/15 9-17 * * Mon-Fri", tz: Europe/London}

DST follows what cronie and Debian's cron (Vixie cron) do when the zone's
clocks change (cron.c: "wildcard" vs "fixed-time" jobs):

- A fixed-time expression (neither minute nor hour starts with `*`, e.g.
  `30 2 * * *`, @daily) is an appointment: a time the clocks skip runs at the
  instant they jump (gap: shift), and a time that occurs twice runs once, the
  first time (fold: first).
- A wildcard expression (`*/15 * * * *`, `0 * * * *`, @hourly) is a cadence
  that follows the clock as it passes: times the clocks skip do not happen
  (gap: skip), and a repeated hour is lived twice (fold: both).

`dst: {gap, fold}` replaces either default for every time of the schedule.
Several times shifted onto the same instant make one run; its `date` and
`daytime` are those of the time really at that instant when that time
matches, else of the earliest shifted one.
"""
from __future__ import annotations

import functools
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar, NamedTuple, cast
from zoneinfo import ZoneInfo

from apsisd.fields import Fields
from apsisd.quantities import parse_zone
from apsisd.schedules.base import Context, Due, common, lazy_times, stamp
from apsisd.schedules.cron_expr import CronExpr, parse_expr
from apsisd.schedules.dst import DstPolicy, Fold, Gap, exists, parse_policy, resolve, steady_day

FIXED_TIME = DstPolicy(Gap.SHIFT, Fold.FIRST)
WILDCARD = DstPolicy(Gap.SKIP, Fold.BOTH)
AUTO_ARGS = frozenset({"time", "date", "daytime", "schedule_time"})
ONE_DAY = timedelta(days=1)
UTC_ZONE = ZoneInfo("UTC")


def default_policy(expr: CronExpr) -> DstPolicy:
    """Cron's own DST behaviour for this kind of expression (see the module docstring)."""
    return FIXED_TIME if expr.fixed else WILDCARD


class Moment(NamedTuple):
    """One candidate run before args are built: its instant, whether it was shifted, and what its args come from.

    `date` and `daytime` are the nominal ones the expression matched. The
    `time` arg is the instant in the zone (a real wall time, also when
    shifted out of a gap, as the daily schedule does): on a steady day the
    nominal date and daytime with the day's `offset`, else (offset "") made
    from the instant when read.

    Tuples sort by instant, then a time that exists (shifted False) before
    one shifted onto the same instant.
    """

    instant: datetime
    shifted: bool
    date: str
    daytime: str
    offset: str


# Moment((...)) without the generated __new__'s argument handling: a day of a `* * * * *` job is 1,440 of them.
make_moment = cast(Callable[[tuple[datetime, bool, str, str, str]], Moment], functools.partial(tuple.__new__, Moment))


@dataclass(frozen=True, slots=True, kw_only=True)
class CronSchedule:
    """Runs at every local time a crontab expression matches, in `tz`, under a DST policy."""

    type_name: ClassVar[str] = "cron"
    auto_names: ClassVar[frozenset[str]] = AUTO_ARGS

    expr: CronExpr
    dst: DstPolicy  # default_policy(expr) unless the job says otherwise
    tz: ZoneInfo = UTC_ZONE
    enabled: bool = True
    args: Mapping[str, str] = field(default_factory=dict)
    # The matching times of day as offsets from midnight with their 'HH:MM:SS' text, sorted: built once.
    _clock: tuple[timedelta, ...] = field(init=False, repr=False, compare=False)
    _daytimes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        clock, daytimes = day_clock(self.expr.hours, self.expr.minutes)
        object.__setattr__(self, "_clock", clock)
        object.__setattr__(self, "_daytimes", daytimes)

    @classmethod
    def parse(cls, fields: Fields, context: Context) -> CronSchedule:
        expr = fields.take("expr", parse_expr)
        tz = fields.take("tz", parse_zone, UTC_ZONE)
        default = default_policy(expr) if expr is not None else FIXED_TIME
        dst = fields.take("dst", parse_policy(default), default)
        shared = common(fields)
        fields.done()
        return cls(expr=expr, tz=tz, dst=dst, **shared)

    def arg_names(self) -> frozenset[str]:
        return AUTO_ARGS | frozenset(self.args)

    def times(self, start: datetime) -> Iterator[Due]:
        return lazy_times(self, start)

    def runs(self, start: datetime) -> Iterator[Moment]:
        """Every run at or after `start`, strictly increasing.

        A run is held back until the next candidate is known, since a time
        shifted out of a gap may land on the instant of a real matching time,
        which then takes its place.
        """
        start = start.astimezone(UTC)
        first_day = start.astimezone(self.tz).date()
        if steady_day(self.tz, first_day) is None:
            first_day -= ONE_DAY  # a fold may carry the day before's times past midnight
        held: Moment | None = None
        for moment in self._moments(first_day, start):
            if held is None:
                held = moment
            elif moment.instant > held.instant:
                yield held
                held = moment
            elif moment.instant == held.instant and held.shifted and not moment.shifted:
                held = moment
        if held is not None:
            yield held

    def auto_arg(self, at: Moment, name: str) -> str:
        if name == "date":
            return at.date
        if name == "daytime":
            return at.daytime
        if name == "schedule_time":
            return stamp(at.instant)
        if at.offset:  # time
            return f"{at.date}T{at.daytime}{at.offset}"
        return at.instant.astimezone(self.tz).isoformat()

    def _moments(self, first_day: date, start: datetime) -> Iterator[Moment]:
        """The matching local times from `first_day` on as instants at or after `start`, in order.

        On a day whose offset stays put each time is one addition. The days
        the clocks change go through dst.resolve() time by time, and are
        sorted together with the next ones until a steady day: a fold may
        repeat the end of one day after the start of the next (St. John's
        went back from 00:01 to 23:01 until 2011).
        """
        changing: list[Moment] = []
        for day in self.expr.days_from(first_day):
            steady = steady_day(self.tz, day)
            if steady is None:
                changing.extend(self._resolved(day, start))
                continue
            if changing:
                yield from sorted(changing)
                changing.clear()
            base, day_text, suffix = steady
            for index in range(bisect_left(self._clock, start - base), len(self._clock)):
                yield make_moment((base + self._clock[index], False, day_text, self._daytimes[index], suffix))
        yield from sorted(changing)

    def _resolved(self, day: date, start: datetime) -> Iterator[Moment]:
        """Each time of a day the clocks change, as the instants the policy gives it."""
        midnight = datetime(day.year, day.month, day.day)
        day_text = day.isoformat()
        for delta, daytime in zip(self._clock, self._daytimes, strict=True):
            local = midnight + delta
            shifted = not exists(local, self.tz)
            for instant in resolve(local, self.tz, self.dst):
                if instant >= start:
                    yield Moment(instant, shifted, day_text, daytime, "")


@functools.lru_cache(maxsize=1024)
def day_clock(hours: tuple[int, ...], minutes: tuple[int, ...]) -> tuple[tuple[timedelta, ...], tuple[str, ...]]:
    """Every matching time of day as an offset from midnight and as 'HH:MM:SS', sorted; shared by equal fields."""
    pairs = [(hour, minute) for hour in hours for minute in minutes]
    return (tuple(timedelta(hours=hour, minutes=minute) for hour, minute in pairs),
            tuple(f"{hour:02d}:{minute:02d}:00" for hour, minute in pairs))
