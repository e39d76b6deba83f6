"""Stop schedules: every form of `stop`, daytime stops across DST, what comes from the start schedule, errors."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from apsisd.errors import InvalidFields
from apsisd.fields import Fields
from apsisd.schedules import registry
from apsisd.schedules.base import Context
from apsisd.schedules.stop import StopSchedule

NY = "America/New_York"


def parse(value: dict[str, Any]) -> StopSchedule:
    schedule = registry.parse_schedule(value, Context())
    assert isinstance(schedule, StopSchedule)
    return schedule


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def pairs(schedule: StopSchedule, start: str, count: int, zone: str) -> list[tuple[str, str | None]]:
    """(run, stop) in `zone`, as ISO text."""
    tz = ZoneInfo(zone)
    return [(due.time.astimezone(tz).isoformat(), due.stop.astimezone(tz).isoformat() if due.stop else None)
            for due in islice(schedule.times(utc(start)), count)]


def daily(daytime: str | list[str], zone: str = NY) -> dict[str, Any]:
    return {"type": "daily", "tz": zone, "daytime": daytime}


# (stop schedule, start, [(run, stop)])
TABLE: list[tuple[dict[str, Any], str, list[tuple[str, str | None]]]] = [
    ({"start": daily("09:30"), "stop": "30m"}, "2026-07-01T00:00-04:00", [
        ("2026-07-01T09:30:00-04:00", "2026-07-01T10:00:00-04:00"),
        ("2026-07-02T09:30:00-04:00", "2026-07-02T10:00:00-04:00")]),
    ({"start": daily("09:30"), "stop": {"type": "duration", "duration": 90}}, "2026-07-01T00:00-04:00", [
        ("2026-07-01T09:30:00-04:00", "2026-07-01T09:31:30-04:00")]),
    # A duration is physical: across the spring-forward jump, 30 minutes from 01:45 EST is 03:15 EDT.
    ({"start": daily("01:45"), "stop": "30m"}, "2026-03-08T00:00-05:00", [
        ("2026-03-08T01:45:00-05:00", "2026-03-08T03:15:00-04:00")]),
    # A daytime stop: the next time the clock shows it, strictly after the run.
    ({"start": daily(["09:30", "17:00", "18:00"]), "stop": "17:00"}, "2026-07-01T00:00-04:00", [
        ("2026-07-01T09:30:00-04:00", "2026-07-01T17:00:00-04:00"),
        ("2026-07-01T17:00:00-04:00", "2026-07-02T17:00:00-04:00"),
        ("2026-07-01T18:00:00-04:00", "2026-07-02T17:00:00-04:00")]),
    # In its own zone.
    ({"start": daily("09:30"), "stop": {"type": "daytime", "daytime": "17:00", "tz": "Europe/London"}},
     "2026-07-01T00:00-04:00", [("2026-07-01T09:30:00-04:00", "2026-07-01T12:00:00-04:00")]),
    # A stop daytime the clocks skip: when they jump (03:00 EDT).
    ({"start": daily("01:00"), "stop": "02:30"}, "2026-03-07T00:00-05:00", [
        ("2026-03-07T01:00:00-05:00", "2026-03-07T02:30:00-05:00"),
        ("2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"),
        ("2026-03-09T01:00:00-04:00", "2026-03-09T02:30:00-04:00")]),
    # A stop daytime that happens twice: its first occurrence ...
    ({"start": daily("00:30"), "stop": "01:30"}, "2026-11-01T00:00-04:00", [
        ("2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-04:00")]),
    # ... and a run between its two occurrences waits for the next day's, as in Apsis (by wall time).
    ({"start": {"type": "explicit", "times": "2026-11-01T01:40:00-04:00"}, "stop": {"type": "daytime",
      "daytime": "01:30", "tz": NY}}, "2026-11-01T00:00-04:00", [
        ("2026-11-01T01:40:00-04:00", "2026-11-02T01:30:00-05:00")]),
    # Samoa's missing 30 December 2011: a 06:00 stop after 29 December's noon is when the day was skipped;
    # 30 December's noon run is at that instant too, and stops at 31 December's 06:00.
    ({"start": daily("12:00", "Pacific/Apia"), "stop": "06:00"}, "2011-12-29T00:00-10:00", [
        ("2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00"),
        ("2011-12-31T00:00:00+14:00", "2011-12-31T06:00:00+14:00"),
        ("2011-12-31T12:00:00+14:00", "2012-01-01T06:00:00+14:00")]),
    # Without stop, the start schedule's times, no stop.
    ({"start": daily("09:30")}, "2026-07-01T00:00-04:00", [("2026-07-01T09:30:00-04:00", None)]),
    # A daily-interval start has a tz too.
    ({"start": {"type": "daily-interval", "tz": NY, "start": "09:00", "stop": "10:00", "interval": "30m"},
      "stop": "09:45"}, "2026-07-01T00:00-04:00", [
        ("2026-07-01T09:00:00-04:00", "2026-07-01T09:45:00-04:00"),
        ("2026-07-01T09:30:00-04:00", "2026-07-01T09:45:00-04:00"),
        ("2026-07-02T09:00:00-04:00", "2026-07-02T09:45:00-04:00")]),
    # Cron and on-calendar starts have one too (on-calendar's: the zone it reads the expression in).
    ({"start": {"type": "cron", "expr": "0 9 * * *", "tz": NY}, "stop": "09:45"}, "2026-07-01T00:00-04:00", [
        ("2026-07-01T09:00:00-04:00", "2026-07-01T09:45:00-04:00")]),
    ({"start": {"type": "on-calendar", "expr": "*-*-* 09:00", "tz": NY}, "stop": "09:45"},
     "2026-07-01T00:00-04:00", [("2026-07-01T09:00:00-04:00", "2026-07-01T09:45:00-04:00")]),
    # An interval start has none: the daytime stop names its own.
    ({"start": {"type": "interval", "interval": "12h"}, "stop": {"type": "daytime", "daytime": "06:00",
      "tz": "UTC"}}, "2026-07-01T00:00+00:00", [
        ("2026-07-01T00:00:00+00:00", "2026-07-01T06:00:00+00:00"),
        ("2026-07-01T12:00:00+00:00", "2026-07-02T06:00:00+00:00")]),
]


@pytest.mark.parametrize(("value", "start", "expected"), TABLE)
def test_stops(value: dict[str, Any], start: str, expected: list[tuple[str, str | None]]) -> None:
    zone = value["start"].get("tz") or value["stop"]["tz"]
    assert pairs(parse(value), start, len(expected), zone) == expected


def test_what_comes_from_the_start_schedule() -> None:
    schedule = parse({"start": {**daily("09:30"), "enabled": False, "args": {"x": 1}}, "stop": "1h"})
    assert (schedule.enabled, schedule.args, schedule.type_name) == (False, {"x": "1"}, "stop")
    assert schedule.arg_names() == {"date", "daytime", "time", "calendar", "tz", "schedule_time", "x"}
    due = next(schedule.times(utc("2026-07-01T00:00-04:00")))
    inner = next(schedule.start.times(utc("2026-07-01T00:00-04:00")))
    assert (due.time, due.args) == (inner.time, inner.args)
    assert due.stop == due.time + timedelta(hours=1)


INVALID: list[tuple[dict[str, Any], list[tuple[tuple[str | int, ...], str]]]] = [
    ({"start": {"type": "daily", "tz": "Nowhere"}, "stop": 0},
     [(("start", "tz"), "unknown time zone 'Nowhere'; use an IANA name such as Europe/London or UTC"),
      (("start", "daytime"), "is required"),
      (("stop",), "must be more than 0, not 0")]),
    ({"start": {"type": "hourly"}},
     [(("start", "type"), "unknown schedule type 'hourly'; known types: cron, daily, daily-interval, explicit, "
                          "interval, on-calendar")]),
    ({"start": "daily"}, [(("start",), "a schedule must be a mapping of keys to values, not a string 'daily'")]),
    ({"start": {"start": daily("09:30"), "stop": "1h"}},
     [(("start",), "must be a schedule with a type, not another {start, stop}")]),
    ({"start": daily("09:30"), "stop": "soon"},
     [(("stop",), "'soon' is not a duration; use a number of seconds or a duration such as 90s, 15m, 4h, 1d or "
                  "1h30m")]),
    ({"start": daily("09:30"), "stop": "25:00"},
     [(("stop",), "'25:00' is not a time of day; hours go 00-23, minutes and seconds 00-59")]),
    ({"start": daily("09:30"), "stop": [1]},
     [(("stop",), "must be a duration such as 30m, a time of day such as '17:00', or {type: duration|daytime, ...}, "
                  "not a list")]),
    ({"start": daily("09:30"), "stop": True},
     [(("stop",), "must be a duration such as 30m, a time of day such as '17:00', or {type: duration|daytime, ...}, "
                  "not a boolean True")]),
    ({"start": daily("09:30"), "stop": {}}, [(("stop", "type"), "is required")]),
    ({"start": daily("09:30"), "stop": {"type": "time", "time": "17:00"}},
     [(("stop", "type"), "'time' is not one of duration, daytime")]),
    ({"start": daily("09:30"), "stop": {"type": "duration", "daytime": "17:00"}},
     [(("stop", "duration"), "is required"), (("stop", "daytime"), "unknown key; allowed here: duration, type")]),
    ({"start": daily("09:30"), "stop": {"type": "daytime", "daytime": "5pm", "tz": "Mars"}},
     [(("stop", "daytime"), "'5pm' is not a time of day; write it as HH:MM or HH:MM:SS, e.g. 09:30"),
      (("stop", "tz"), "unknown time zone 'Mars'; use an IANA name such as Europe/London or UTC")]),
    ({"start": {"type": "interval", "interval": "1h"}, "stop": "17:00"},
     [(("stop",), "a daytime stop needs a tz, as the start schedule has none; e.g. stop: {type: daytime, "
                  "daytime: '17:00', tz: Europe/London}")]),
    ({"start": {"type": "interval", "interval": "1h"}, "stop": {"type": "daytime", "daytime": "17:00"}},
     [(("stop", "tz"), "a daytime stop needs a tz, as the start schedule has none; e.g. stop: {type: daytime, "
                       "daytime: '17:00', tz: Europe/London}")]),
    ({"start": daily("09:30"), "stop": "1h", "enabled": False},
     [(("enabled",), "unknown key; allowed here: start, stop")]),
]


@pytest.mark.parametrize(("value", "problems"), INVALID)
def test_invalid(value: dict[str, Any], problems: list[Any]) -> None:
    with pytest.raises(InvalidFields) as caught:
        registry.parse_schedule(value, Context())
    assert caught.value.problems == problems


def test_start_is_required() -> None:
    with pytest.raises(InvalidFields) as caught:
        StopSchedule.parse(Fields({"stop": "30m"}), Context(), registry.parse_schedule)
    assert caught.value.problems == [(("start",), "is required")]
