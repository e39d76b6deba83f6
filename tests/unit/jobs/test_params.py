"""parse_params() in its three forms, and check_schedules(): every enabled schedule gives every param a value."""
from __future__ import annotations

from typing import Any

import pytest

from apsisd.errors import InvalidFields
from apsisd.fields import Fields
from apsisd.jobs.params import check_schedules, parse_params
from apsisd.schedules.base import Context
from apsisd.schedules.interval import IntervalSchedule


@pytest.mark.parametrize(("value", "expected"), [
    (None, ()),
    ([], ()),
    ("date", ("date",)),
    (["date", "region", "_x9"], ("date", "region", "_x9")),
    ({"date": None, "region": "where it runs"}, ("date", "region")),
])
def test_forms(value: Any, expected: tuple[str, ...]) -> None:
    assert parse_params(value) == expected


RESERVED = "a param may not be named run_id, job_id, next_business_day, prev_business_day, business_day"
NAME = "use letters, digits and _, not starting with a digit"


@pytest.mark.parametrize(("value", "expected"), [
    (5, [((), "must be a list of names, one name, or a mapping whose keys are the names, not a number 5")]),
    (True, [((), "must be a list of names, one name, or a mapping whose keys are the names, not a boolean True")]),
    ("", [((), f"a string '' is not a param name; {NAME}")]),
    ("my-date", [((), f"a string 'my-date' is not a param name; {NAME}")]),
    (["ok", "2nd", 3, None, "a b", "é"],
     [((1,), f"a string '2nd' is not a param name; {NAME}"), ((2,), f"a number 3 is not a param name; {NAME}"),
      ((3,), f"nothing (null) is not a param name; {NAME}"), ((4,), f"a string 'a b' is not a param name; {NAME}"),
      ((5,), f"a string 'é' is not a param name; {NAME}")]),
    (["run_id", "date", "date", "job_id", "business_day"],
     [((0,), f"'run_id' is reserved; {RESERVED}"), ((2,), "param 'date' is declared twice"),
      ((3,), f"'job_id' is reserved; {RESERVED}"), ((4,), f"'business_day' is reserved; {RESERVED}")]),
    ({"job_id": None, "x-y": None},
     [(("job_id",), f"'job_id' is reserved; {RESERVED}"), (("x-y",), f"a string 'x-y' is not a param name; {NAME}")]),
])
def test_problems(value: Any, expected: list[tuple[tuple[str | int, ...], str]]) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_params(value)
    assert caught.value.problems == expected


def interval(**keys: Any) -> Any:
    return IntervalSchedule.parse(Fields({"interval": "1h", **keys}), Context())


def test_every_enabled_schedule_must_give_every_param() -> None:
    auto = interval()  # date, time, daytime, schedule_time
    with_region = interval(args={"region": "UK"})
    disabled = interval(enabled=False)
    check_schedules(("date", "region"), [with_region, disabled], [("schedule", 0), ("schedule", 1)])
    check_schedules((), [auto], [("schedule",)])
    with pytest.raises(InvalidFields) as caught:
        check_schedules(("date", "region", "shard"), [auto, with_region, disabled],
                        [("schedule", 0), ("schedule", 1), ("schedule", 2)])
    assert caught.value.problems == [
        (("schedule", 0), "gives no value for params 'region', 'shard'; add them to the schedule's args "
                          "(args: {region: ..., shard: ...}) or remove them from params"),
        (("schedule", 1), "gives no value for param 'shard'; add it to the schedule's args (args: {shard: ...}) or "
                          "remove it from params"),
    ]
