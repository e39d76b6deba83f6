"""The daily-interval schedule: windows across both New York changes under every policy, shifts, args, errors."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import pytest

from apsisd.calendars.calendar import Calendar
from apsisd.errors import InvalidFields
from apsisd.fields import Fields
from apsisd.schedules.base import Context
from apsisd.schedules.daily_interval import DailyIntervalSchedule

NY = "America/New_York"
CONTEXT = Context(calendars={"us": Calendar("us", frozenset(range(5)), frozenset()), })


def parse(**data: Any) -> DailyIntervalSchedule:
    return DailyIntervalSchedule.parse(Fields({"tz": NY, **data}), CONTEXT)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def local_times(schedule: DailyIntervalSchedule, start: str, end: str) -> list[str]:
    """Every run in [start, end), as local ISO text (the offset shows which reading)."""
    found = []
    for due in schedule.times(utc(start)):
        if due.time >= utc(end):
            return found
        found.append(due.time.astimezone(schedule.tz).isoformat()[11:])
    raise AssertionError("unreachable: daily-interval schedules never end")


def quarters(first: str, count: int, offset: str) -> list[str]:
    """`count` local times 15 minutes apart from HH:MM, all at one UTC offset."""
    hour, minute = map(int, first.split(":"))
    return [f"{(hour * 60 + minute + 15 * n) // 60:02d}:{(minute + 15 * n) % 60:02d}:00{offset}"
            for n in range(count)]


SPRING = ("2026-03-08T00:00-05:00", "2026-03-09T00:00-04:00")
FALL = ("2026-11-01T00:00-04:00", "2026-11-02T00:00-05:00")
POLICIES = {"default": None, "gap skip": {"gap": "skip"}, "fold first": {"fold": "first"},
            "fold second": {"fold": "second"}, "fold both": {"fold": "both"}}
# (day, start, stop, policy -> local times); "*" is every policy not named.
WINDOWS: list[tuple[tuple[str, str], str, str, dict[str, list[str]]]] = [
    # Every 15 minutes from 00:00 to 04:00: the clocks skip 02:00-03:00, the window is 3 hours long.
    (SPRING, "00:00", "04:00", {"*": quarters("00:00", 8, "-05:00") + quarters("03:00", 4, "-04:00")}),
    # The start does not exist: the window opens when the clocks jump; Apsis's skip drops the date.
    (SPRING, "02:30", "04:00", {"*": quarters("03:00", 4, "-04:00"), "gap skip": []}),
    # The stop does not exist: the window closes when the clocks jump.
    (SPRING, "01:00", "02:30", {"*": quarters("01:00", 4, "-05:00"), "gap skip": []}),
    (SPRING, "02:00", "02:45", {"*": [], "gap skip": []}),
    # Every 15 minutes from 00:00 to 04:00 as 01:00-02:00 happens twice: 5 hours, 20 runs.
    (FALL, "00:00", "04:00", {"*": quarters("00:00", 8, "-04:00") + quarters("01:00", 12, "-05:00")}),
    # The stop happens twice: by default the window ends at its second occurrence.
    (FALL, "00:30", "01:30", {
        "*": quarters("00:30", 6, "-04:00") + quarters("01:00", 2, "-05:00"),
        "fold first": quarters("00:30", 4, "-04:00")}),
    # The start happens twice: by default the window opens at its first occurrence.
    (FALL, "01:15", "02:00", {
        "*": quarters("01:15", 3, "-04:00") + quarters("01:00", 4, "-05:00"),
        "fold second": quarters("01:15", 3, "-05:00")}),
    # Both happen twice.
    (FALL, "01:15", "01:45", {
        "*": quarters("01:15", 3, "-04:00") + quarters("01:00", 3, "-05:00"),
        "fold first": quarters("01:15", 2, "-04:00"),
        "fold second": quarters("01:15", 2, "-05:00")}),
]


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize(("day", "start", "stop", "expected"), WINDOWS,
                         ids=[f"{day[0][:10]}-{start}-{stop}" for day, start, stop, _ in WINDOWS])
def test_every_15_minutes_across_new_york_changes(day: tuple[str, str], start: str, stop: str,
                                                  expected: dict[str, list[str]], policy: str) -> None:
    dst = POLICIES[policy]
    schedule = parse(start=start, stop=stop, interval="15m", **({} if dst is None else {"dst": dst}))
    assert local_times(schedule, *day) == expected.get(policy, expected["*"])


def test_physical_steps_that_do_not_divide_the_hour_keep_their_pace_across_the_jump() -> None:
    schedule = parse(start="01:00", stop="05:00", interval="25m")
    assert local_times(schedule, *SPRING) == [
        "01:00:00-05:00", "01:25:00-05:00", "01:50:00-05:00", "03:15:00-04:00", "03:40:00-04:00", "04:05:00-04:00",
        "04:30:00-04:00", "04:55:00-04:00"]


def test_window_past_midnight() -> None:
    schedule = parse(start="23:00", stop={"daytime": "01:00", "date_shift": 1}, interval="30m", calendar="Fri")
    dues = list(islice(schedule.times(utc("2026-07-01T00:00-04:00")), 5))
    assert [(due.time.astimezone(schedule.tz).isoformat(), due.args["date"], due.args["sched_date"])
            for due in dues] == [
        ("2026-07-03T23:00:00-04:00", "2026-07-03", "2026-07-03"),
        ("2026-07-03T23:30:00-04:00", "2026-07-03", "2026-07-03"),
        ("2026-07-04T00:00:00-04:00", "2026-07-03", "2026-07-04"),
        ("2026-07-04T00:30:00-04:00", "2026-07-03", "2026-07-04"),
        ("2026-07-10T23:00:00-04:00", "2026-07-10", "2026-07-10")]


def test_overlapping_windows_run_each_instant_once() -> None:
    # Apsis's example: from noon of the previous business day to 17:00; Tuesday's window (from Monday noon)
    # and Wednesday's (from Tuesday noon) share Tuesday 12:00-17:00; the shared runs keep Tuesday's date.
    schedule = parse(start={"daytime": "12:00", "cal_shift": -1}, stop="17:00", interval="4h", calendar="us")
    dues = list(islice(schedule.times(utc("2026-07-06T00:00-04:00")), 12))
    assert [(due.time.astimezone(schedule.tz).isoformat()[:16], due.args["date"]) for due in dues] == [
        ("2026-07-06T00:00", "2026-07-06"), ("2026-07-06T04:00", "2026-07-06"), ("2026-07-06T08:00", "2026-07-06"),
        ("2026-07-06T12:00", "2026-07-06"), ("2026-07-06T16:00", "2026-07-06"), ("2026-07-06T20:00", "2026-07-07"),
        ("2026-07-07T00:00", "2026-07-07"), ("2026-07-07T04:00", "2026-07-07"), ("2026-07-07T08:00", "2026-07-07"),
        ("2026-07-07T12:00", "2026-07-07"), ("2026-07-07T16:00", "2026-07-07"), ("2026-07-07T20:00", "2026-07-08")]


def test_args() -> None:
    schedule = parse(start="01:00", stop="04:00", interval="1h", args={"x": 1}, calendar="us")
    dues = list(islice(schedule.times(utc("2026-03-09T00:00-04:00")), 2))
    assert dues[0].args == {"date": "2026-03-09", "sched_date": "2026-03-09", "daytime": "01:00:00",
                            "time": "2026-03-09T01:00:00-04:00", "calendar": "us", "tz": NY,
                            "schedule_time": "2026-03-09T05:00:00+00:00", "x": "1"}
    assert dues[1].args["daytime"] == "02:00:00"
    assert schedule.arg_names() == {"date", "sched_date", "daytime", "time", "calendar", "tz", "schedule_time", "x"}
    assert (schedule.type_name, schedule.enabled) == ("daily-interval", True)


TAILS: list[dict[str, Any]] = [
    {"start": "00:00", "stop": "04:00", "interval": "15m"},
    {"start": {"daytime": "12:00", "cal_shift": -1}, "stop": "17:00", "interval": "7h", "calendar": "us"},
    {"start": "22:00", "stop": {"daytime": "02:30", "date_shift": 1}, "interval": "20m", "dst": {"fold": "second"}},
]


@pytest.mark.parametrize("data", TAILS)
def test_any_start_gives_the_same_tail(data: dict[str, Any]) -> None:
    schedule = parse(**data)
    for origin in ("2026-03-06T00:00Z", "2026-10-30T00:00Z"):
        full = [due.time for due in islice(schedule.times(utc(origin)), 80)]
        assert full == sorted(set(full))
        for index, moment in enumerate(full[:-4]):
            for start in (moment, moment - timedelta(minutes=3), moment + timedelta(microseconds=1)):
                expected = full[index + 1 if start > moment else index:][:4]
                assert [due.time for due in islice(schedule.times(start), len(expected))] == expected


DURATION_HELP = "use a number of seconds or a duration such as 90s, 15m, 4h, 1d or 1h30m"
INVALID: list[tuple[dict[str, Any], list[tuple[tuple[str | int, ...], str]]]] = [
    ({"tz": None}, [(("tz",), "must be a time zone name such as Europe/London or UTC, not nothing (null)"),
                    (("start",), "is required"), (("stop",), "is required"), (("interval",), "is required")]),
    ({"start": "9am", "stop": "17:00", "interval": "1h"},
     [(("start",), "'9am' is not a time of day; write it as HH:MM or HH:MM:SS, e.g. 09:30")]),
    ({"start": {"date_shift": "x", "time": "09:00"}, "stop": {"daytime": "17:00", "cal_shift": 1.5},
      "interval": "1h"},
     [(("start", "daytime"), "is required"), (("start", "date_shift"), "must be a whole number, not a string 'x'"),
      (("start", "time"), "unknown key; allowed here: cal_shift, date_shift, daytime"),
      (("stop", "cal_shift"), "must be a whole number, not a number 1.5")]),
    ({"start": "09:00", "stop": "17:00", "interval": 0},
     [(("interval",), "must be at least 1s and less than 1d, not 0")]),
    ({"start": "09:00", "stop": "17:00", "interval": "1d"},
     [(("interval",), "must be at least 1s and less than 1d, not '1d'")]),
    ({"start": "09:00", "stop": "17:00", "interval": "often"},
     [(("interval",), f"'often' is not a duration; {DURATION_HELP}")]),
    ({"start": "17:00", "stop": "09:00", "interval": "1h"},
     [(("stop",), "must come after start; for a window past midnight shift the stop a day on, e.g. stop: "
                  "{daytime: '02:00', date_shift: 1}")]),
    ({"start": "09:00", "stop": "09:00", "interval": "1h"},
     [(("stop",), "must come after start; for a window past midnight shift the stop a day on, e.g. stop: "
                  "{daytime: '02:00', date_shift: 1}")]),
    ({"start": {"daytime": "09:00", "date_shift": 1}, "stop": {"daytime": "23:00"}, "interval": "1h"},
     [(("stop",), "must come after start; for a window past midnight shift the stop a day on, e.g. stop: "
                  "{daytime: '02:00', date_shift: 1}")]),
    ({"start": {"daytime": "09:00", "cal_shift": 1}, "stop": {"daytime": "17:00", "date_shift": 5}, "interval": "1h"},
     [(("stop",), "must not have a smaller cal_shift than start (0 < 1), or the window could end before it "
                  "begins")]),
    ({"start": "09:00", "stop": "17:00", "interval": "1h", "calendar": 5, "dst": {"gap": "later"}, "daytime": "1"},
     [(("calendar",), "must be all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday calendar's name, "
                      "not a number 5"),
      (("dst", "gap"), "'later' is not one of shift, skip"),
      (("daytime",), "unknown key; allowed here: args, calendar, dst, enabled, interval, start, stop, tz")]),
]


@pytest.mark.parametrize(("data", "problems"), INVALID)
def test_invalid(data: dict[str, Any], problems: list[Any]) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse(**data)
    assert caught.value.problems == problems


@pytest.mark.parametrize(("start", "stop"), [
    ("22:00", {"daytime": "02:00", "date_shift": 1}),
    ({"daytime": "12:00", "cal_shift": -1}, "09:00"),
    ({"daytime": "12:00", "cal_shift": -1, "date_shift": 1}, {"daytime": "12:00:01", "date_shift": 1}),
    ({"daytime": "23:00", "date_shift": -1}, "00:00"),
])
def test_valid_orders(start: Any, stop: Any) -> None:
    parse(start=start, stop=stop, interval="1h")
