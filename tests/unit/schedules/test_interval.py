"""The interval schedule: epoch-aligned instants in UTC, args, and every validation error."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import islice
from typing import Any

import pytest

from apsisd.errors import InvalidFields
from apsisd.fields import Fields
from apsisd.schedules.base import Context
from apsisd.schedules.interval import IntervalSchedule


def parse(**data: Any) -> IntervalSchedule:
    return IntervalSchedule.parse(Fields(data), Context())


def instants(schedule: IntervalSchedule, start: datetime, count: int) -> list[str]:
    return [due.time.isoformat() for due in islice(schedule.times(start), count)]


# (fields, start, first instants)
TABLE: list[tuple[dict[str, Any], str, list[str]]] = [
    ({"interval": "4h", "phase": "15m"}, "2026-03-08T01:00:00+00:00",
     ["2026-03-08T04:15:00+00:00", "2026-03-08T08:15:00+00:00", "2026-03-08T12:15:00+00:00"]),
    ({"interval": "4h", "phase": "15m"}, "2026-03-08T04:15:00+00:00",
     ["2026-03-08T04:15:00+00:00", "2026-03-08T08:15:00+00:00", "2026-03-08T12:15:00+00:00"]),
    ({"interval": "4h", "phase": "15m"}, "2026-03-08T04:15:00.000001+00:00",
     ["2026-03-08T08:15:00+00:00", "2026-03-08T12:15:00+00:00", "2026-03-08T16:15:00+00:00"]),
    # Across New York's change (07:00Z): physical time, so no jump.
    ({"interval": "1h"}, "2026-03-08T01:30:00-05:00",
     ["2026-03-08T07:00:00+00:00", "2026-03-08T08:00:00+00:00", "2026-03-08T09:00:00+00:00"]),
    ({"interval": "15m"}, "2026-11-01T01:50:00-04:00",
     ["2026-11-01T06:00:00+00:00", "2026-11-01T06:15:00+00:00", "2026-11-01T06:30:00+00:00"]),
    ({"interval": 90}, "1970-01-01T00:00:00+00:00",
     ["1970-01-01T00:00:00+00:00", "1970-01-01T00:01:30+00:00", "1970-01-01T00:03:00+00:00"]),
    # Before the epoch, the same grid.
    ({"interval": "7m", "phase": "1m"}, "1969-12-31T23:50:00+00:00",
     ["1969-12-31T23:54:00+00:00", "1970-01-01T00:01:00+00:00", "1970-01-01T00:08:00+00:00"]),
    # An interval that does not divide a day drifts across dates, counted from the epoch
    # (2026-01-01 is day 20454, and 20454 * 24 is a multiple of 7; 20454 = 55 * 366 + 324).
    ({"interval": "7h"}, "2026-01-01T00:00:00+00:00",
     ["2026-01-01T00:00:00+00:00", "2026-01-01T07:00:00+00:00", "2026-01-01T14:00:00+00:00"]),
    ({"interval": "7h"}, "2026-01-02T00:00:00+00:00",
     ["2026-01-02T04:00:00+00:00", "2026-01-02T11:00:00+00:00", "2026-01-02T18:00:00+00:00"]),
    ({"interval": "1d", "phase": "23h59m59s"}, "2026-01-01T00:00:00+00:00",
     ["2026-01-01T23:59:59+00:00", "2026-01-02T23:59:59+00:00", "2026-01-03T23:59:59+00:00"]),
    ({"interval": "366d"}, "2026-01-01T00:00:00+00:00",
     ["2026-02-12T00:00:00+00:00", "2027-02-13T00:00:00+00:00", "2028-02-14T00:00:00+00:00"]),
    ({"interval": "1s"}, "2026-01-01T00:00:00.5+00:00",
     ["2026-01-01T00:00:01+00:00", "2026-01-01T00:00:02+00:00", "2026-01-01T00:00:03+00:00"]),
]


@pytest.mark.parametrize(("data", "start", "expected"), TABLE)
def test_instants(data: dict[str, Any], start: str, expected: list[str]) -> None:
    assert instants(parse(**data), datetime.fromisoformat(start), 3) == expected


def test_every_instant_is_aware_utc() -> None:
    due = next(parse(interval="1h").times(datetime(2026, 1, 1, 12, 30, tzinfo=timezone(timedelta(hours=5)))))
    assert due.time == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert due.time.tzinfo is UTC


def test_args() -> None:
    schedule = parse(interval="4h", phase="15m", args={"host": "a", "date": "mine"})
    due = next(schedule.times(datetime(2026, 3, 8, 1, tzinfo=UTC)))
    assert due.args == {"date": "mine", "daytime": "04:15:00", "time": "2026-03-08T04:15:00+00:00",
                        "schedule_time": "2026-03-08T04:15:00+00:00", "host": "a"}
    assert due.stop is None
    assert schedule.arg_names() == {"date", "daytime", "time", "schedule_time", "host"}


def test_common_fields() -> None:
    schedule = parse(interval=60, enabled=False, args={"n": 3})
    assert schedule.enabled is False
    assert schedule.args == {"n": "3"}
    assert schedule.type_name == "interval"
    assert parse(interval=60).enabled is True


def test_tail_from_any_start() -> None:
    schedule = parse(interval="25m", phase="7m")
    full = [due.time for due in islice(schedule.times(datetime(2026, 1, 1, tzinfo=UTC)), 50)]
    for index, moment in enumerate(full[:-5]):
        assert [due.time for due in islice(schedule.times(moment), 5)] == full[index:index + 5]
        later = [due.time for due in islice(schedule.times(moment + timedelta(microseconds=1)), 5)]
        assert later == full[index + 1:index + 6]


INVALID: list[tuple[dict[str, Any], list[tuple[tuple[str | int, ...], str]]]] = [
    ({}, [(("interval",), "is required")]),
    ({"interval": 0}, [(("interval",), "must be at least 1s and at most 366d, not 0")]),
    ({"interval": "0.5s"}, [(("interval",), "must be at least 1s and at most 366d, not '0.5s'")]),
    ({"interval": "367d"}, [(("interval",), "must be at least 1s and at most 366d, not '367d'")]),
    ({"interval": -5}, [(("interval",), "must not be negative, not -5; use a number of seconds or a duration such "
                                        "as 90s, 15m, 4h, 1d or 1h30m")]),
    ({"interval": "often"}, [(("interval",), "'often' is not a duration; use a number of seconds or a duration "
                                             "such as 90s, 15m, 4h, 1d or 1h30m")]),
    ({"interval": "1h", "phase": "1h"}, [(("phase",), "must be less than the interval (1h), not 1h")]),
    ({"interval": "1h", "phase": "2h"}, [(("phase",), "must be less than the interval (1h), not 2h")]),
    ({"interval": "1h", "phase": "soon"}, [(("phase",), "'soon' is not a duration; use a number of seconds or a "
                                                        "duration such as 90s, 15m, 4h, 1d or 1h30m")]),
    ({"interval": "1h", "tz": "UTC", "enabled": "yes", "args": []},
     [(("enabled",), "must be true or false, not a string 'yes'"),
      (("args",), "must be a mapping of names to strings, not a list"),
      (("tz",), "unknown key; allowed here: args, enabled, interval, phase")]),
]


@pytest.mark.parametrize(("data", "problems"), INVALID)
def test_invalid(data: dict[str, Any], problems: list[Any]) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse(**data)
    assert caught.value.problems == problems
