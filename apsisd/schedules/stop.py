"""Stop schedules: `{start: <schedule>, stop: ...}` gives every run of the start schedule a time to be stopped.

Apsis's form, `stop: {type: duration, duration: 30m}` or `stop: {type:
daytime, daytime: '17:00', tz: ...}`, and the short forms `stop: 30m` and
`stop: '17:00'` (in the start schedule's tz when it has one). A daytime stop
is the next time the wall clock shows it strictly after the run's instant; a
skipped wall time stands for the instant the clocks jump, a repeated one for
its first occurrence.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from apsisd.errors import InvalidFields, invalid
from apsisd.fields import Fields, describe, string
from apsisd.quantities import DAYTIME, parse_daytime, parse_duration, parse_zone
from apsisd.schedules.base import EMPTY, Context, Due, Schedule
from apsisd.schedules.days import ONE_DAY, earliest

KINDS = ("duration", "daytime")


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationStop:
    """Stop a run this long after its scheduled instant."""

    duration: timedelta

    def after(self, moment: datetime) -> datetime:
        return moment + self.duration


@dataclass(frozen=True, slots=True, kw_only=True)
class DaytimeStop:
    """Stop a run the next time the wall clock in `tz` shows `daytime`."""

    daytime: time
    tz: ZoneInfo

    def after(self, moment: datetime) -> datetime:
        day = moment.astimezone(self.tz).date()
        while (stop := earliest(day, self.daytime, self.tz)) <= moment:
            day += ONE_DAY
        return stop


@dataclass(frozen=True, slots=True, kw_only=True)
class StopSchedule:
    type_name: ClassVar[str] = "stop"

    start: Schedule
    stop: DurationStop | DaytimeStop | None = None
    enabled: bool = True
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)

    @classmethod
    def parse(cls, fields: Fields, context: Context, parse_start: Callable[[Any, Context], Schedule]
              ) -> StopSchedule:
        """`parse_start` parses the start schedule: the registry's parse_schedule, passed in because the registry
        sends the `{start, stop}` form here (importing it back would make the two modules a cycle)."""
        start = fields.take("start", lambda value: _start(parse_start(value, context)))
        written = fields.take("stop", _stop, None)
        stop: DurationStop | DaytimeStop | None = written if not isinstance(written, tuple) else None
        if isinstance(written, tuple):  # a daytime: in its own tz, else in the start schedule's
            daytime, tz = written
            zone = tz or getattr(start, "tz", None)
            if isinstance(zone, ZoneInfo):
                stop = DaytimeStop(daytime=daytime, tz=zone)
            elif start is not None:
                where = ("stop", "tz") if isinstance(fields.raw("stop"), Mapping) else ("stop",)
                fields.problems.append((where, "a daytime stop needs a tz, as the start schedule has none; e.g. "
                                               "stop: {type: daytime, daytime: '17:00', tz: Europe/London}"))
        fields.done()
        return cls(start=start, stop=stop, enabled=start.enabled, args=start.args)

    def arg_names(self) -> frozenset[str]:
        return self.start.arg_names()

    def times(self, start: datetime) -> Iterator[Due]:
        for due in self.start.times(start):
            yield due if self.stop is None else due._replace(stop=self.stop.after(due.time))


def _start(schedule: Schedule) -> Schedule:
    if isinstance(schedule, StopSchedule):
        raise invalid("must be a schedule with a type, not another {start, stop}")
    return schedule


def _stop(value: Any) -> DurationStop | tuple[time, ZoneInfo | None]:
    """A duration stop, or a daytime with its tz if one is given."""
    if isinstance(value, Mapping):
        return _typed(value)
    if isinstance(value, str) and DAYTIME.fullmatch(value.strip()):
        return parse_daytime(value), None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return DurationStop(duration=_positive(value))
    raise invalid(f"must be a duration such as 30m, a time of day such as '17:00', or "
                  f"{{type: duration|daytime, ...}}, not {describe(value)}")


def _typed(value: Mapping[str, Any]) -> DurationStop | tuple[time, ZoneInfo | None]:
    fields = Fields(value, "stop")
    kind = fields.take("type", _kind)
    if kind == "duration":
        duration = fields.take("duration", _positive)
        fields.done()
        return DurationStop(duration=duration)
    if kind == "daytime":
        daytime = fields.take("daytime", parse_daytime)
        tz = fields.take("tz", parse_zone, None)
        fields.done()
        return daytime, tz
    raise InvalidFields(fields.problems)  # no valid type: the other keys depend on it


def _kind(value: Any) -> str:
    kind = string(value)
    if kind not in KINDS:
        raise invalid(f"{kind!r} is not one of {', '.join(KINDS)}")
    return kind


def _positive(value: Any) -> timedelta:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise invalid(f"must be more than 0, not {value!r}")
    return timedelta(seconds=seconds)
