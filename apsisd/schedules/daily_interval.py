"""The `daily-interval` schedule: every `interval` within a window of the day, on the dates of a calendar.

Apsis-compatible: for each calendar date the window runs from `start` to
`stop` (exclusive) in `tz`, each of which may be shifted by calendar or
physical days; runs step physically by `interval` from the window's start.
DST: by default the window covers every instant whose wall time is within
[start, stop) (start at its first reading, stop at its last; a wall time
the clocks skip stands for the instant they jump). Apsis instead dropped the
whole date when start or stop did not exist; `dst: {gap: skip}` does that.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from apsisd.calendars.calendar import ALL, Calendar
from apsisd.calendars.spec import parse_calendar
from apsisd.errors import invalid
from apsisd.fields import Fields
from apsisd.quantities import parse_daytime, parse_duration, parse_zone
from apsisd.schedules.base import EMPTY, Context, Due, common, lazy_times, stamp
from apsisd.schedules.days import NO_SHIFT, ONE_DAY, Batch, DayShift, day_count, earliest, merge
from apsisd.schedules.dst import DstPolicy, Fold, Gap, parse_policy, resolve_on

AUTO_ARGS = frozenset({"date", "sched_date", "daytime", "time", "calendar", "tz", "schedule_time"})
DEFAULT_DST = DstPolicy(Gap.SHIFT, Fold.BOTH)


@dataclass(frozen=True, slots=True, kw_only=True)
class Bound:
    """One end of the window: a daytime on the calendar date, optionally shifted."""

    daytime: time
    shift: DayShift = NO_SHIFT

    def days(self) -> timedelta:
        """How far into the nominal date this bound lies, counting each calendar-date shift as one day at least."""
        return timedelta(days=self.shift.cal_shift + self.shift.date_shift,
                         hours=self.daytime.hour, minutes=self.daytime.minute, seconds=self.daytime.second,
                         microseconds=self.daytime.microsecond)


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyIntervalSchedule:
    type_name: ClassVar[str] = "daily-interval"
    auto_names: ClassVar[frozenset[str]] = AUTO_ARGS

    tz: ZoneInfo
    start: Bound
    stop: Bound
    interval: timedelta
    calendar: Calendar = ALL
    dst: DstPolicy = DEFAULT_DST
    enabled: bool = True
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    # The policies the window's start and stop are resolved under (see _window): built once.
    _policies: tuple[DstPolicy, DstPolicy] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        first_fold = Fold.SECOND if self.dst.fold is Fold.SECOND else Fold.FIRST
        last_fold = Fold.FIRST if self.dst.fold is Fold.FIRST else Fold.SECOND
        object.__setattr__(self, "_policies", (DstPolicy(self.dst.gap, first_fold), DstPolicy(self.dst.gap, last_fold)))

    @classmethod
    def parse(cls, fields: Fields, context: Context) -> DailyIntervalSchedule:
        tz = fields.take("tz", parse_zone)
        start = fields.take("start", parse_bound)
        stop = fields.take("stop", parse_bound)
        interval = fields.take("interval", window_step)
        calendar = fields.take("calendar", lambda value: parse_calendar(value, context.calendars), ALL)
        dst = fields.take("dst", parse_policy(DEFAULT_DST), DEFAULT_DST)
        keywords = common(fields)
        if start is not None and stop is not None:
            fields.problems.extend(_order_problems(start, stop))
        fields.done()
        return cls(tz=tz, start=start, stop=stop, interval=timedelta(seconds=interval), calendar=calendar, dst=dst,
                   **keywords)

    def arg_names(self) -> frozenset[str]:
        return AUTO_ARGS | frozenset(self.args)

    def times(self, start: datetime) -> Iterator[Due]:
        return lazy_times(self, start)

    def runs(self, start: datetime) -> Iterator[tuple[datetime, str]]:
        # Windows are anchored on the stop date: the first that can hold
        # `start` ends no earlier than a day before start's local date.
        first = start.astimezone(self.tz).date() - ONE_DAY
        return merge(self._batches(first, start), start)

    def auto_arg(self, at: tuple[datetime, str], name: str) -> str:
        instant, day = at
        if name == "date":
            return day
        if name == "schedule_time":
            return stamp(instant)
        if name == "calendar":
            return self.calendar.name
        if name == "tz":
            return self.tz.key
        local = instant.astimezone(self.tz)
        if name == "sched_date":
            return local.date().isoformat()
        if name == "daytime":
            return local.time().isoformat()
        return local.isoformat()  # time

    def _batches(self, first: date, start: datetime) -> Iterator[Batch[tuple[datetime, str]]]:
        day = self.stop.shift.first(self.calendar, first)
        while True:
            begin_day = self.start.shift.apply(self.calendar, day)
            yield earliest(begin_day, self.start.daytime, self.tz), self._window(day, begin_day, start)
            day = self.calendar.after(day)

    def _window(self, day: date, begin_day: date, start: datetime) -> Iterator[tuple[datetime, str]]:
        """The runs of calendar date `day`: from the window's start, every interval, before its stop.

        The start is its wall time's first reading (its second with fold:
        second), the stop its last (its first with fold: first).
        """
        first_policy, last_policy = self._policies
        begin = resolve_on(begin_day, self.start.daytime, self.tz, first_policy)
        end = resolve_on(self.stop.shift.apply(self.calendar, day), self.stop.daytime, self.tz, last_policy)
        if not begin or not end:
            return
        # Jump straight to the first run at or after `start`.
        interval, stop = self.interval, end[0]
        moment = begin[0] + max(0, -((begin[0] - start) // interval)) * interval
        nominal = day.isoformat()
        while moment < stop:
            yield moment, nominal
            moment += interval


def parse_bound(value: Any) -> Bound:
    """A window end: a daytime, or {daytime, date_shift, cal_shift}."""
    if not isinstance(value, Mapping):
        return Bound(daytime=parse_daytime(value))
    fields = Fields(value, "a window end")
    daytime = fields.take("daytime", parse_daytime)
    date_shift = fields.take("date_shift", day_count, 0)
    cal_shift = fields.take("cal_shift", day_count, 0)
    fields.done()
    return Bound(daytime=daytime, shift=DayShift(cal_shift=cal_shift, date_shift=date_shift))


def window_step(value: Any) -> float:
    """The interval: at least a second, less than a day."""
    seconds = parse_duration(value)
    if not 1 <= seconds < 86400:
        raise invalid(f"must be at least 1s and less than 1d, not {value!r}")
    return seconds


def _order_problems(start: Bound, stop: Bound) -> list[tuple[tuple[str | int, ...], str]]:
    """The stop must come after the start on every date, or a window could be empty day after day.

    A calendar-date shift moves at least one physical day, so a stop with at
    least the start's cal_shift and a later (days + daytime) always is.
    """
    if stop.shift.cal_shift < start.shift.cal_shift:
        return [(("stop",), f"must not have a smaller cal_shift than start ({stop.shift.cal_shift} < "
                            f"{start.shift.cal_shift}), or the window could end before it begins")]
    if stop.days() <= start.days():
        return [(("stop",), "must come after start; for a window past midnight shift the stop a day on, "
                            "e.g. stop: {daytime: '02:00', date_shift: 1}")]
    return []
