"""The explicit schedule: listed instants, sorted and each once, from any start; every validation error."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apsisd.errors import InvalidFields
from apsisd.fields import Fields
from apsisd.schedules.base import Context
from apsisd.schedules.explicit import ExplicitSchedule

TIMES = ["2026-03-08T03:00:00-04:00", "2026-01-01T00:00:00Z", "2026-03-08T07:00:00+00:00",
         "2025-12-31T23:30:00-01:00", "2026-06-01T12:00:00.250+02:00"]


def parse(**data: Any) -> ExplicitSchedule:
    return ExplicitSchedule.parse(Fields(data), Context())


def instants(schedule: ExplicitSchedule, start: str) -> list[str]:
    return [due.time.isoformat() for due in schedule.times(datetime.fromisoformat(start))]


@pytest.mark.parametrize(("start", "expected"), [
    ("2000-01-01T00:00:00+00:00", ["2026-01-01T00:00:00+00:00", "2026-01-01T00:30:00+00:00",
                                   "2026-03-08T07:00:00+00:00", "2026-06-01T10:00:00.250000+00:00"]),
    ("2026-01-01T00:00:00+00:00", ["2026-01-01T00:00:00+00:00", "2026-01-01T00:30:00+00:00",
                                   "2026-03-08T07:00:00+00:00", "2026-06-01T10:00:00.250000+00:00"]),
    ("2026-01-01T00:00:01+00:00", ["2026-01-01T00:30:00+00:00", "2026-03-08T07:00:00+00:00",
                                   "2026-06-01T10:00:00.250000+00:00"]),
    ("2026-03-08T03:00:00-04:00", ["2026-03-08T07:00:00+00:00", "2026-06-01T10:00:00.250000+00:00"]),
    ("2026-06-01T10:00:00.250001+00:00", []),
])
def test_instants_sorted_once_each_from_any_start(start: str, expected: list[str]) -> None:
    assert instants(parse(times=TIMES), start) == expected


def test_one_bare_time() -> None:
    assert instants(parse(times="2026-01-01T09:30:00+01:00"), "2026-01-01T00:00:00Z") == ["2026-01-01T08:30:00+00:00"]


def test_a_yaml_datetime_with_offset() -> None:
    schedule = parse(times=[datetime(2026, 1, 1, 9, 30, tzinfo=UTC)])
    assert instants(schedule, "2026-01-01T00:00:00Z") == ["2026-01-01T09:30:00+00:00"]


def test_args() -> None:
    schedule = parse(times=TIMES[:1], args={"x": 1, "time": "mine"})
    [due] = schedule.times(datetime(2026, 1, 1, tzinfo=UTC))
    assert due.args == {"time": "mine", "schedule_time": "2026-03-08T07:00:00+00:00", "x": "1"}
    assert due.time.tzinfo is UTC
    assert schedule.arg_names() == {"time", "schedule_time", "x"}
    assert schedule.type_name == "explicit"


INVALID: list[tuple[dict[str, Any], list[tuple[tuple[str | int, ...], str]]]] = [
    ({}, [(("times",), "is required")]),
    ({"times": []}, [(("times",), "must list at least one time, such as 2026-01-31T09:30:00+01:00")]),
    ({"times": ["2026-01-01T00:00:00Z", "2026-01-01T10:00:00", "tomorrow", 5]},
     [(("times", 1), "'2026-01-01T10:00:00' has no UTC offset; add one (Z, +01:00) so the instant is unambiguous"),
      (("times", 2), "'tomorrow' is not an ISO 8601 time, e.g. 2026-01-31T09:30:00+01:00"),
      (("times", 3), "must be an ISO 8601 time, not a number 5")]),
    ({"times": "2026-01-01"}, [(("times",), "'2026-01-01' has no UTC offset; add one (Z, +01:00) so the instant is "
                                            "unambiguous")]),
    ({"times": TIMES, "tz": "UTC"}, [(("tz",), "unknown key; allowed here: args, enabled, times")]),
]


@pytest.mark.parametrize(("data", "problems"), INVALID)
def test_invalid(data: dict[str, Any], problems: list[Any]) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse(**data)
    assert caught.value.problems == problems
