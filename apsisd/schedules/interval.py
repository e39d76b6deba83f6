"""The `interval` schedule: every `interval`, offset by `phase`, counted from the Unix epoch in UTC.

Physical time only, so DST never applies; the same job runs at the same
instants on every host and after every restart.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from apsisd.errors import invalid
from apsisd.fields import Fields
from apsisd.quantities import parse_duration
from apsisd.schedules.base import EMPTY, Context, Due, common, lazy_times, stamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_DAY = timedelta(days=1)
AUTO_ARGS = frozenset({"date", "time", "daytime", "schedule_time"})
MAX_INTERVAL = 366 * 86400


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalSchedule:
    type_name: ClassVar[str] = "interval"
    auto_names: ClassVar[frozenset[str]] = AUTO_ARGS

    interval: timedelta
    phase: timedelta = timedelta(0)
    enabled: bool = True
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)

    @classmethod
    def parse(cls, fields: Fields, context: Context) -> IntervalSchedule:
        interval = fields.take("interval", _interval)
        phase = fields.take("phase", parse_duration, 0.0)
        keywords = common(fields)
        if interval is not None and phase is not None and phase >= interval:
            fields.problems.append((("phase",), f"must be less than the interval ({fields.raw('interval')}), "
                                                f"not {fields.raw('phase')}"))
        fields.done()
        return cls(interval=timedelta(seconds=interval), phase=timedelta(seconds=phase), **keywords)

    def arg_names(self) -> frozenset[str]:
        return AUTO_ARGS | frozenset(self.args)

    def times(self, start: datetime) -> Iterator[Due]:
        return lazy_times(self, start)

    def runs(self, start: datetime) -> Iterator[tuple[datetime, str]]:
        # A run's args are made from (instant, its `date` text): the date changes once a day, and runs can
        # come every second.
        origin = EPOCH + self.phase
        moment = origin - ((origin - start) // self.interval) * self.interval
        interval = self.interval
        day, day_end = _day(moment)
        while True:
            if moment >= day_end:
                day, day_end = _day(moment)
            yield moment, day
            moment += interval

    def auto_arg(self, at: tuple[datetime, str], name: str) -> str:
        moment, day = at
        if name == "date":
            return day
        if name == "daytime":
            return moment.time().isoformat()
        return stamp(moment)  # time, schedule_time


def _day(moment: datetime) -> tuple[str, datetime]:
    """The UTC date of `moment` as text, and the instant it ends."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.date().isoformat(), midnight + ONE_DAY


def _interval(value: Any) -> float:
    seconds = parse_duration(value)
    if not 1 <= seconds <= MAX_INTERVAL:
        raise invalid(f"must be at least 1s and at most 366d, not {value!r}")
    return seconds
