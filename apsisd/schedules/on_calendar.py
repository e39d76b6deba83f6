"""The `on-calendar` schedule: systemd's OnCalendar= syntax, elapsing exactly when systemd's timers would.

    schedule:
      type: on-calendar
      expr: "Mon..Fri *-*-* 09:30"
      tz: Europe/London        # used when expr names no zone; default UTC

Unlike the other zone-aware schedules there is no `dst:` override: an
on-calendar schedule keeps systemd's own handling of clock changes, so that
what `systemd-analyze calendar` prints for an expression is what runs.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from apsisd.errors import invalid
from apsisd.fields import MAX_EXPRESSION, Fields, bounded, string
from apsisd.quantities import parse_zone
from apsisd.schedules.base import EMPTY, Context, Due, LazyArgs, common, stamp
from apsisd.schedules.calendar_event import CalendarEvent
from apsisd.schedules.calendar_event_search import CalendarSearch
from apsisd.schedules.calendar_event_syntax import EXAMPLES, parse_calendar_event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
AUTO_ARGS = frozenset({"date", "time", "daytime", "schedule_time"})


@dataclass(frozen=True, slots=True, kw_only=True)
class OnCalendarSchedule:
    """Runs at every elapse of a systemd calendar event, in the expression's zone or else `tz`."""

    type_name: ClassVar[str] = "on-calendar"
    auto_names: ClassVar[frozenset[str]] = AUTO_ARGS
    expr: str
    event: CalendarEvent
    tz: ZoneInfo  # where the event is read, and the zone of the `date`, `time`, `daytime` args
    enabled: bool = True
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)

    @classmethod
    def parse(cls, fields: Fields, context: Context) -> OnCalendarSchedule:
        keywords = common(fields)
        local = fields.take("tz", parse_zone, ZoneInfo("UTC"))
        parsed = fields.take("expr", lambda value: _parse_expr(value, local))
        fields.done()
        expr, event = parsed
        zone = ZoneInfo("UTC") if event.utc else ZoneInfo(event.timezone) if event.timezone else local
        return cls(expr=expr, event=event, tz=zone, **keywords)

    def times(self, start: datetime) -> Iterator[Due]:
        search = CalendarSearch(self.event, None if self.event.utc else self.tz)
        for usec in search.elapses((start - EPOCH) // MICROSECOND - 1):
            moment = EPOCH + timedelta(microseconds=usec)
            yield Due(time=moment, args=LazyArgs(self, moment))

    def arg_names(self) -> frozenset[str]:
        return AUTO_ARGS | frozenset(self.args)

    def auto_arg(self, at: datetime, name: str) -> str:
        """`date`, `daytime` and `time` in the schedule's zone; `schedule_time` in UTC (the run is never moved)."""
        if name == "schedule_time":
            return stamp(at)
        local = at.astimezone(self.tz)
        if name == "date":
            return local.date().isoformat()
        if name == "daytime":
            return local.time().isoformat("seconds")
        return local.isoformat()


def _parse_expr(value: Any, local: ZoneInfo) -> tuple[str, CalendarEvent]:
    """The expression as written (surrounding spaces dropped, as in a unit file) and its event."""
    text = bounded(string(value), "a calendar event", MAX_EXPRESSION).strip()
    if not text:
        raise invalid(f"must be a systemd calendar event, not an empty string; {EXAMPLES}")
    return text, parse_calendar_event(text, local)
