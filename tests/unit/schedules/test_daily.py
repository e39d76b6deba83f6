"""The daily schedule: the classic DST traps under every policy, calendars and shifts, args, every error."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

import pytest

from apsisd.calendars.calendar import Calendar
from apsisd.errors import InvalidFields
from apsisd.fields import Fields
from apsisd.schedules.base import Context
from apsisd.schedules.daily import DailySchedule

# US market holidays of 2026 that matter below: Friday 3 July (observed), Friday 25 December.
US = Calendar("us", frozenset(range(5)), frozenset({date(2026, 7, 3), date(2026, 12, 25)}))
CONTEXT = Context(calendars={"us": US})


def parse(**data: Any) -> DailySchedule:
    return DailySchedule.parse(Fields(data), CONTEXT)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def between(schedule: DailySchedule, start: str, end: str) -> list[str]:
    """Every instant in [start, end), as UTC ISO text."""
    found = []
    for due in schedule.times(utc(start)):
        if due.time >= utc(end):
            return found
        found.append(due.time.isoformat())
    raise AssertionError("unreachable: daily schedules never end")


NY = "America/New_York"
POLICIES = {
    "default": None,
    "gap shift": {"gap": "shift"},
    "gap skip": {"gap": "skip"},
    "fold first": {"fold": "first"},
    "fold second": {"fold": "second"},
    "fold both": {"fold": "both"},
    "skip and both": {"gap": "skip", "fold": "both"},
}
# (zone, daytime, from, to, policy -> instants); "*" is every policy not named.
TRAPS: list[tuple[str, str, str, str, dict[str, list[str]]]] = [
    # 02:30 on the spring-forward day: 02:00 EST jumps to 03:00 EDT (07:00Z); 02:30 does not exist.
    (NY, "02:30", "2026-03-07T00:00-05:00", "2026-03-10T00:00-04:00", {
        "*": ["2026-03-07T07:30:00+00:00", "2026-03-08T07:00:00+00:00", "2026-03-09T06:30:00+00:00"],
        "gap skip": ["2026-03-07T07:30:00+00:00", "2026-03-09T06:30:00+00:00"],
        "skip and both": ["2026-03-07T07:30:00+00:00", "2026-03-09T06:30:00+00:00"],
    }),
    # 02:30 on the fall-back day: 02:00 EDT goes back to 01:00 EST; 02:30 happens once, in EST.
    (NY, "02:30", "2026-10-31T00:00-04:00", "2026-11-03T00:00-05:00", {
        "*": ["2026-10-31T06:30:00+00:00", "2026-11-01T07:30:00+00:00", "2026-11-02T07:30:00+00:00"],
    }),
    # 01:30 on the fall-back day happens twice: 05:30Z (EDT) and 06:30Z (EST).
    (NY, "01:30", "2026-10-31T00:00-04:00", "2026-11-03T00:00-05:00", {
        "*": ["2026-10-31T05:30:00+00:00", "2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"],
        "fold second": ["2026-10-31T05:30:00+00:00", "2026-11-01T06:30:00+00:00", "2026-11-02T06:30:00+00:00"],
        "fold both": ["2026-10-31T05:30:00+00:00", "2026-11-01T05:30:00+00:00", "2026-11-01T06:30:00+00:00",
                      "2026-11-02T06:30:00+00:00"],
        "skip and both": ["2026-10-31T05:30:00+00:00", "2026-11-01T05:30:00+00:00", "2026-11-01T06:30:00+00:00",
                          "2026-11-02T06:30:00+00:00"],
    }),
    # Samoa skipped 30 December 2011 (-10:00 to +14:00 at 10:00Z): its 09:00 never was.
    ("Pacific/Apia", "09:00", "2011-12-29T00:00-10:00", "2012-01-02T00:00+14:00", {
        "*": ["2011-12-29T19:00:00+00:00", "2011-12-30T10:00:00+00:00", "2011-12-30T19:00:00+00:00",
              "2011-12-31T19:00:00+00:00"],
        "gap skip": ["2011-12-29T19:00:00+00:00", "2011-12-30T19:00:00+00:00", "2011-12-31T19:00:00+00:00"],
        "skip and both": ["2011-12-29T19:00:00+00:00", "2011-12-30T19:00:00+00:00", "2011-12-31T19:00:00+00:00"],
    }),
    # Lord Howe shifts by 30 minutes: 02:00 goes back to 01:30 on 5 April 2026 ...
    ("Australia/Lord_Howe", "01:45", "2026-04-04T00:00+11:00", "2026-04-07T00:00+10:30", {
        "*": ["2026-04-03T14:45:00+00:00", "2026-04-04T14:45:00+00:00", "2026-04-05T15:15:00+00:00"],
        "fold second": ["2026-04-03T14:45:00+00:00", "2026-04-04T15:15:00+00:00", "2026-04-05T15:15:00+00:00"],
        "fold both": ["2026-04-03T14:45:00+00:00", "2026-04-04T14:45:00+00:00", "2026-04-04T15:15:00+00:00",
                      "2026-04-05T15:15:00+00:00"],
        "skip and both": ["2026-04-03T14:45:00+00:00", "2026-04-04T14:45:00+00:00", "2026-04-04T15:15:00+00:00",
                          "2026-04-05T15:15:00+00:00"],
    }),
    # ... and jumps from 02:00 to 02:30 on 4 October 2026 (15:30Z).
    ("Australia/Lord_Howe", "02:15", "2026-10-03T00:00+10:30", "2026-10-06T00:00+11:00", {
        "*": ["2026-10-02T15:45:00+00:00", "2026-10-03T15:30:00+00:00", "2026-10-04T15:15:00+00:00"],
        "gap skip": ["2026-10-02T15:45:00+00:00", "2026-10-04T15:15:00+00:00"],
        "skip and both": ["2026-10-02T15:45:00+00:00", "2026-10-04T15:15:00+00:00"],
    }),
]


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize(("zone", "daytime", "start", "end", "expected"), TRAPS,
                         ids=[f"{zone}-{daytime}-{start[:10]}" for zone, daytime, start, end, _ in TRAPS])
def test_dst_traps(zone: str, daytime: str, start: str, end: str, expected: dict[str, list[str]],
                   policy: str) -> None:
    dst = POLICIES[policy]
    schedule = parse(tz=zone, daytime=daytime, **({} if dst is None else {"dst": dst}))
    assert between(schedule, start, end) == expected.get(policy, expected["*"])


def test_args_of_a_shifted_gap_time() -> None:
    schedule = parse(tz=NY, daytime="02:30")
    due = next(schedule.times(utc("2026-03-08T00:00-05:00")))
    assert due.args == {"date": "2026-03-08", "daytime": "02:30:00", "time": "2026-03-08T03:00:00-04:00",
                        "calendar": "all", "tz": NY, "schedule_time": "2026-03-08T07:00:00+00:00"}


def test_args_of_both_readings() -> None:
    schedule = parse(tz=NY, daytime="01:30", dst={"fold": "both"})
    first, second = islice(schedule.times(utc("2026-11-01T00:00-04:00")), 2)
    assert (first.args["time"], second.args["time"]) == ("2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00")
    assert first.args["date"] == second.args["date"] == "2026-11-01"


def test_apia_daytimes_that_land_on_one_instant_run_once() -> None:
    # 30 December's 00:00 and 09:00 both shift to the jump (10:00Z), which is also 31 December's 00:00.
    schedule = parse(tz="Pacific/Apia", daytime=["09:00", "00:00"])
    dues = list(islice(schedule.times(utc("2011-12-29T06:00-10:00")), 4))
    assert [due.time.isoformat() for due in dues] == [
        "2011-12-29T19:00:00+00:00", "2011-12-30T10:00:00+00:00", "2011-12-30T19:00:00+00:00",
        "2011-12-31T10:00:00+00:00"]
    assert (dues[1].args["date"], dues[1].args["daytime"]) == ("2011-12-30", "00:00:00")


def test_several_daytimes_sorted_and_deduplicated() -> None:
    schedule = parse(tz="Europe/Berlin", daytime=["16:30", "10:30:00", "16:30:00", "10:30"])
    assert schedule.daytimes == (datetime(1, 1, 1, 10, 30).time(), datetime(1, 1, 1, 16, 30).time())
    assert between(schedule, "2026-01-05T00:00+01:00", "2026-01-06T00:00+01:00") == [
        "2026-01-05T09:30:00+00:00", "2026-01-05T15:30:00+00:00"]


# (fields, from, to, [(instant, nominal date)]): calendars, cal_shift, date_shift, time_shift.
SHIFTED: list[tuple[dict[str, Any], str, str, list[tuple[str, str]]]] = [
    # Business days of the us calendar: Friday 3 July is a holiday.
    ({"calendar": "us", "daytime": "18:00"}, "2026-07-01T00:00-04:00", "2026-07-08T00:00-04:00", [
        ("2026-07-01T22:00:00+00:00", "2026-07-01"), ("2026-07-02T22:00:00+00:00", "2026-07-02"),
        ("2026-07-06T22:00:00+00:00", "2026-07-06"), ("2026-07-07T22:00:00+00:00", "2026-07-07")]),
    # cal_shift -1: on the previous business day (Monday 6 July's run is on Thursday 2 July).
    ({"calendar": "us", "daytime": "18:00", "cal_shift": -1}, "2026-07-01T00:00-04:00", "2026-07-08T00:00-04:00", [
        ("2026-07-01T22:00:00+00:00", "2026-07-02"), ("2026-07-02T22:00:00+00:00", "2026-07-06"),
        ("2026-07-06T22:00:00+00:00", "2026-07-07"), ("2026-07-07T22:00:00+00:00", "2026-07-08")]),
    # cal_shift 1: on the next business day (Thursday 2 July's run is on Monday 6 July).
    ({"calendar": "us", "daytime": "06:00", "cal_shift": 1}, "2026-07-01T00:00-04:00", "2026-07-08T00:00-04:00", [
        ("2026-07-01T10:00:00+00:00", "2026-06-30"), ("2026-07-02T10:00:00+00:00", "2026-07-01"),
        ("2026-07-06T10:00:00+00:00", "2026-07-02"), ("2026-07-07T10:00:00+00:00", "2026-07-06")]),
    # Apsis's example: calendar Mon, date_shift -1, 20:00 UTC runs on Sunday with date = Monday.
    ({"tz": "UTC", "calendar": "Mon", "daytime": "20:00", "date_shift": -1}, "2026-01-01T00:00Z",
     "2026-01-15T00:00Z", [("2026-01-04T20:00:00+00:00", "2026-01-05"), ("2026-01-11T20:00:00+00:00", "2026-01-12")]),
    # cal_shift is applied before date_shift: the business day before, then a day earlier still.
    ({"calendar": "us", "daytime": "18:00", "cal_shift": -1, "date_shift": -1}, "2026-07-01T00:00-04:00",
     "2026-07-07T00:00-04:00", [
         ("2026-07-01T22:00:00+00:00", "2026-07-06"), ("2026-07-05T22:00:00+00:00", "2026-07-07"),
         ("2026-07-06T22:00:00+00:00", "2026-07-08")]),
    # time_shift moves the instant, not the args; negative runs earlier, even across midnight
    # (Thursday 2 July's run, at 23:55 on the 1st, is before the start).
    ({"daytime": "00:10", "time_shift": "-15m", "calendar": "Mon-Fri"}, "2026-07-02T00:00-04:00",
     "2026-07-07T00:00-04:00", [
         ("2026-07-03T03:55:00+00:00", "2026-07-03"), ("2026-07-06T03:55:00+00:00", "2026-07-06"),
         ("2026-07-07T03:55:00+00:00", "2026-07-07")]),
    ({"daytime": "09:30", "time_shift": 15}, "2026-07-02T00:00-04:00", "2026-07-03T00:00-04:00", [
        ("2026-07-02T13:30:15+00:00", "2026-07-02")]),
    ({"daytime": "09:30", "time_shift": "1d"}, "2026-07-02T00:00-04:00", "2026-07-03T00:00-04:00", [
        ("2026-07-02T13:30:00+00:00", "2026-07-01")]),
    # A combined calendar: weekdays minus the us holidays.
    ({"daytime": "12:00", "calendar": {"weekdays": "Thu,Fri", "holidays": "us"}}, "2026-06-29T00:00-04:00",
     "2026-07-13T00:00-04:00", [
         ("2026-07-02T16:00:00+00:00", "2026-07-02"), ("2026-07-09T16:00:00+00:00", "2026-07-09"),
         ("2026-07-10T16:00:00+00:00", "2026-07-10")]),
]


@pytest.mark.parametrize(("data", "start", "end", "expected"), SHIFTED)
def test_calendars_and_shifts(data: dict[str, Any], start: str, end: str, expected: list[tuple[str, str]]) -> None:
    schedule = parse(**{"tz": NY, **data})
    dues = []
    for due in schedule.times(utc(start)):
        if due.time >= utc(end):
            break
        dues.append((due.time.isoformat(), due.args["date"]))
    assert dues == expected


def test_args_with_shifts_are_nominal() -> None:
    schedule = parse(tz=NY, calendar="us", daytime="18:00", cal_shift=-1, time_shift="10s", args={"x": "y"})
    due = next(schedule.times(utc("2026-07-02T00:00-04:00")))
    assert due.time == utc("2026-07-02T18:00:10-04:00")
    assert due.args == {"date": "2026-07-06", "daytime": "18:00:00", "time": "2026-07-06T18:00:00-04:00",
                        "calendar": "us", "tz": NY, "schedule_time": "2026-07-02T22:00:10+00:00", "x": "y"}
    assert schedule.arg_names() == {"date", "daytime", "time", "calendar", "tz", "schedule_time", "x"}


def test_nominal_time_resolved_on_its_own_date() -> None:
    # The run is on Saturday 7 March at 02:30 EST; the nominal date, Sunday 8 March, has no 02:30.
    schedule = parse(tz=NY, daytime="02:30", date_shift=-1)
    due = next(schedule.times(utc("2026-03-07T00:00-05:00")))
    assert due.time == utc("2026-03-07T02:30-05:00")
    assert (due.args["date"], due.args["time"]) == ("2026-03-08", "2026-03-08T03:00:00-04:00")


TAILS: list[dict[str, Any]] = [
    {"tz": NY, "daytime": ["01:30", "02:30", "23:59"], "dst": {"fold": "both"}},
    {"tz": NY, "daytime": ["02:30", "12:00"], "calendar": "us", "cal_shift": -1, "date_shift": 1, "time_shift": "-3h"},
    {"tz": "Pacific/Apia", "daytime": ["00:00", "09:00", "23:30"]},
    {"tz": "Australia/Lord_Howe", "daytime": ["01:45", "02:15"], "dst": {"fold": "second", "gap": "skip"}},
]


@pytest.mark.parametrize("data", TAILS)
def test_any_start_gives_the_same_tail(data: dict[str, Any]) -> None:
    schedule = parse(**data)
    for year_start in ("2011-12-20T00:00Z", "2026-02-25T00:00Z", "2026-09-25T00:00Z"):
        full = [due.time for due in islice(schedule.times(utc(year_start)), 60)]
        assert full == sorted(set(full))
        for index, moment in enumerate(full[:-4]):
            for start in (moment, moment - timedelta(minutes=7), moment + timedelta(microseconds=1)):
                expected = full[index + 1 if start > moment else index:][:4]
                assert [due.time for due in islice(schedule.times(start), len(expected))] == expected


def test_common_fields() -> None:
    schedule = parse(tz="UTC", daytime="12:00", enabled=False, args={"n": 1})
    assert (schedule.enabled, schedule.args, schedule.type_name) == (False, {"n": "1"}, "daily")


DURATION_HELP = "use a number of seconds or a duration such as 90s, 15m, 4h, 1d or 1h30m"
INVALID: list[tuple[dict[str, Any], list[tuple[tuple[str | int, ...], str]]]] = [
    ({}, [(("tz",), "is required"), (("daytime",), "is required")]),
    ({"tz": "Mars/Olympus", "daytime": "25:00"},
     [(("tz",), "unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/London or UTC"),
      (("daytime",), "'25:00' is not a time of day; hours go 00-23, minutes and seconds 00-59")]),
    ({"tz": "UTC", "daytime": []}, [(("daytime",), "must list at least one time of day, such as 09:30 or "
                                                   "[09:30, 16:00]")]),
    ({"tz": "UTC", "daytime": ["09:30", "noon", 930]},
     [(("daytime", 1), "'noon' is not a time of day; write it as HH:MM or HH:MM:SS, e.g. 09:30"),
      (("daytime", 2), "930 is not a time of day; write it as HH:MM or HH:MM:SS, e.g. 09:30")]),
    ({"tz": "UTC", "daytime": "09:30", "calendar": "uk"},
     [(("calendar",), "unknown calendar 'uk'; use all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday "
                      "calendar: us")]),
    ({"tz": "UTC", "daytime": "09:30", "date_shift": "1", "cal_shift": 400},
     [(("date_shift",), "must be a whole number, not a string '1'"),
      (("cal_shift",), "must be between -366 and 366 days, not 400")]),
    ({"tz": "UTC", "daytime": "09:30", "time_shift": "-soon"},
     [(("time_shift",), f"'soon' is not a duration; {DURATION_HELP}")]),
    ({"tz": "UTC", "daytime": "09:30", "time_shift": "367d"},
     [(("time_shift",), "must be within 366 days either way, not '367d'")]),
    ({"tz": "UTC", "daytime": "09:30", "time_shift": -40000000},
     [(("time_shift",), "must be within 366 days either way, not -40000000")]),
    ({"tz": "UTC", "daytime": "09:30", "time_shift": [1]},
     [(("time_shift",), "must be a number of seconds or a duration such as 90s, 15m, 4h, 1d or 1h30m, not a list")]),
    ({"tz": "UTC", "daytime": "09:30", "dst": {"gap": "jump", "fold": "last", "when": 1}},
     [(("dst", "gap"), "'jump' is not one of shift, skip"), (("dst", "fold"), "'last' is not one of first, "
                                                                               "second, both"),
      (("dst", "when"), "unknown key; allowed here: fold, gap")]),
    ({"tz": "UTC", "daytime": "09:30", "dst": "skip"},
     [(("dst",), "dst must be a mapping of keys to values, not a string 'skip'")]),
    ({"tz": "UTC", "daytime": "09:30", "interval": "1h"},
     [(("interval",), "unknown key; allowed here: args, cal_shift, calendar, date_shift, daytime, dst, enabled, "
                      "time_shift, tz")]),
]


@pytest.mark.parametrize(("data", "problems"), INVALID)
def test_invalid(data: dict[str, Any], problems: list[Any]) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse(**data)
    assert caught.value.problems == problems


@pytest.mark.parametrize(("value", "seconds"), [("-15s", -15.0), (-90, -90.0), ("1h30m", 5400.0), (0, 0.0),
                                                (" -1d ", -86400.0), (2.5, 2.5)])
def test_time_shift_spellings(value: Any, seconds: float) -> None:
    assert parse(tz="UTC", daytime="12:00", time_shift=value).time_shift == timedelta(seconds=seconds)
