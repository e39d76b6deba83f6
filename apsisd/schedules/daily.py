"""The `daily` schedule: given times of day on the dates of a calendar, in a time zone.

Apsis-compatible: for each calendar date D and daytime Y the run is at
`(cal.shift(D, cal_shift) + date_shift, Y)` in `tz`, plus `time_shift`; the
args keep the nominal D and Y. Unlike Apsis, a daytime the clocks skip or
repeat follows a DST policy (default: gap shift, fold first) instead of
looping forever.
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
from apsisd.fields import Fields, each
from apsisd.quantities import parse_daytime, parse_duration, parse_zone
from apsisd.schedules.base import EMPTY, Context, Due, common, lazy_times, stamp
from apsisd.schedules.days import MAX_SHIFT, NO_SHIFT, ONE_DAY, Batch, DayShift, day_count, earliest, merge
from apsisd.schedules.dst import DstPolicy, Fold, Gap, parse_policy, resolve, since_midnight, steady_day

AUTO_ARGS = frozenset({"date", "time", "daytime", "calendar", "tz", "schedule_time"})
DEFAULT_DST = DstPolicy(Gap.SHIFT, Fold.FIRST)
Run = tuple[datetime, date, time, int]  # instant, nominal date and daytime, which instant of a repeated wall time


@dataclass(frozen=True, slots=True, kw_only=True)
class DailySchedule:
    type_name: ClassVar[str] = "daily"
    auto_names: ClassVar[frozenset[str]] = AUTO_ARGS

    tz: ZoneInfo
    daytimes: tuple[time, ...]
    calendar: Calendar = ALL
    shift: DayShift = NO_SHIFT
    time_shift: timedelta = timedelta(0)
    dst: DstPolicy = DEFAULT_DST
    enabled: bool = True
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    @classmethod
    def parse(cls, fields: Fields, context: Context) -> DailySchedule:
        tz = fields.take("tz", parse_zone)
        daytimes = fields.take("daytime", daytime_list)
        calendar = fields.take("calendar", lambda value: parse_calendar(value, context.calendars), ALL)
        date_shift = fields.take("date_shift", day_count, 0)
        cal_shift = fields.take("cal_shift", day_count, 0)
        time_shift = fields.take("time_shift", signed_duration, 0.0)
        dst = fields.take("dst", parse_policy(DEFAULT_DST), DEFAULT_DST)
        keywords = common(fields)
        fields.done()
        return cls(tz=tz, daytimes=daytimes, calendar=calendar, shift=DayShift(cal_shift=cal_shift,
                   date_shift=date_shift), time_shift=timedelta(seconds=time_shift), dst=dst, **keywords)

    def arg_names(self) -> frozenset[str]:
        return AUTO_ARGS | frozenset(self.args)

    def times(self, start: datetime) -> Iterator[Due]:
        return lazy_times(self, start)

    def runs(self, start: datetime) -> Iterator[Run]:
        # A run's wall date is at most a day before the date of the instant
        # (a gap shifts forward by at most a day; a fold repeats at most a day).
        first = (start - self.time_shift).astimezone(self.tz).date() - ONE_DAY
        return merge(self._batches(first), start)

    def _batches(self, first: date) -> Iterator[Batch[Run]]:
        day = self.shift.first(self.calendar, first)
        while True:
            run_day = self.shift.apply(self.calendar, day)
            steady = steady_day(self.tz, run_day)
            if steady is not None:
                # Most days: each daytime is one instant, found by an addition (resolve() costs ten).
                base = steady.midnight + self.time_shift
                found = [(base + since_midnight(daytime), day, daytime, 0) for daytime in self.daytimes]
                floor = found[0][0]
            else:
                found = self._instants(day, run_day)
                # Under the default policy the first run is the earliest reading of the first daytime already.
                if self.dst == DEFAULT_DST:
                    floor = found[0][0]
                else:
                    floor = earliest(run_day, self.daytimes[0], self.tz) + self.time_shift
            yield floor, iter(found)
            day = self.calendar.after(day)

    def _instants(self, day: date, run_day: date) -> list[Run]:
        """The runs of calendar date `day`, in order (a fold with `both` can interleave two daytimes)."""
        found = [(instant + self.time_shift, day, daytime, which)
                 for daytime in self.daytimes
                 for which, instant in enumerate(resolve(datetime.combine(run_day, daytime), self.tz, self.dst))]
        if len(found) > 1:
            found.sort(key=lambda item: item[0])
        return found

    def auto_arg(self, at: Run, name: str) -> str:
        instant, day, daytime, which = at
        if name == "date":
            return day.isoformat()
        if name == "daytime":
            return daytime.isoformat()
        if name == "schedule_time":
            return stamp(instant)
        if name == "calendar":
            return self.calendar.name
        if name == "tz":
            return self.tz.key
        if self.shift == NO_SHIFT:  # time: the nominal one
            nominal = instant - self.time_shift
        else:
            # The nominal wall time is on D, not on the run date: resolve it on its own.
            readings = resolve(datetime.combine(day, daytime), self.tz, DstPolicy(Gap.SHIFT, self.dst.fold))
            nominal = readings[min(which, len(readings) - 1)]
        return nominal.astimezone(self.tz).isoformat()


def daytime_list(value: Any) -> tuple[time, ...]:
    """One daytime or a list of them, sorted, each once."""
    daytimes = each(parse_daytime)(value)
    if not daytimes:
        raise invalid("must list at least one time of day, such as 09:30 or [09:30, 16:00]")
    return tuple(sorted(set(daytimes)))


def signed_duration(value: Any) -> float:
    """Seconds from a duration that may be negative (-15s: run earlier), within a year either way."""
    text = value.strip() if isinstance(value, str) else value
    negative = isinstance(text, str) and text.startswith("-")
    if negative or (isinstance(text, int | float) and not isinstance(text, bool) and text < 0):
        seconds = -parse_duration(text[1:] if isinstance(text, str) else -text)
    else:
        seconds = parse_duration(text)
    if abs(seconds) > MAX_SHIFT * 86400:
        raise invalid(f"must be within {MAX_SHIFT} days either way, not {value!r}")
    return seconds
