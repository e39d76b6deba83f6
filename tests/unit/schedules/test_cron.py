"""CronSchedule: parsing its keys, tables of expected instants, args, and the DST traps in New York."""
from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any

import pytest

from apsisd.errors import InvalidFields
from apsisd.fields import Fields
from apsisd.schedules.base import Context, Due
from apsisd.schedules.cron import FIXED_TIME, WILDCARD, CronSchedule
from apsisd.schedules.dst import DstPolicy, Fold, Gap

FORM = ("5 fields (minute hour day-of-month month day-of-week), e.g. '*/15 9-17 * * Mon-Fri', "
        "or a macro such as @daily")


def schedule(**keys: Any) -> CronSchedule:
    return CronSchedule.parse(Fields(keys, "a schedule"), Context())


def at(text: str) -> datetime:
    """An instant from 'YYYY-MM-DD HH:MM' in UTC, or from ISO 8601 with an offset."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def upcoming(keys: dict[str, Any], start: str, count: int) -> list[Due]:
    return list(itertools.islice(schedule(**keys).times(at(start)), count))


def instants(keys: dict[str, Any], start: str, count: int) -> list[str]:
    return [due.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for due in upcoming(keys, start, count)]


def test_registered_under_its_type_name() -> None:
    (point,) = [point for point in entry_points(group="apsis.schedules") if point.name == "cron"]
    assert point.load() is CronSchedule
    assert CronSchedule.type_name == "cron"


@pytest.mark.parametrize(("keys", "expected"), [
    ({"expr": "30 2 * * *"}, {"tz": "UTC", "dst": FIXED_TIME, "enabled": True, "args": {}}),
    ({"expr": "*/15 * * * *"}, {"tz": "UTC", "dst": WILDCARD, "enabled": True, "args": {}}),
    ({"expr": "@hourly"}, {"tz": "UTC", "dst": WILDCARD, "enabled": True, "args": {}}),
    ({"expr": "@daily", "tz": "Europe/London", "enabled": False, "args": {"region": "EU", "n": 5}},
     {"tz": "Europe/London", "dst": FIXED_TIME, "enabled": False, "args": {"region": "EU", "n": "5"}}),
    # an override replaces what it names; the other half stays the expression's default
    ({"expr": "30 2 * * *", "dst": {"fold": "both"}}, {"tz": "UTC", "dst": DstPolicy(Gap.SHIFT, Fold.BOTH),
                                                       "enabled": True, "args": {}}),
    ({"expr": "0 * * * *", "dst": {"gap": "shift"}}, {"tz": "UTC", "dst": DstPolicy(Gap.SHIFT, Fold.BOTH),
                                                      "enabled": True, "args": {}}),
    ({"expr": "0 * * * *", "dst": {"gap": "shift", "fold": "first"}},
     {"tz": "UTC", "dst": FIXED_TIME, "enabled": True, "args": {}}),
    ({"expr": "0 * * * *", "dst": {}}, {"tz": "UTC", "dst": WILDCARD, "enabled": True, "args": {}}),
])
def test_parse(keys: dict[str, Any], expected: dict[str, Any]) -> None:
    parsed = schedule(**keys)
    assert {"tz": parsed.tz.key, "dst": parsed.dst, "enabled": parsed.enabled, "args": dict(parsed.args)} == expected
    assert parsed.expr.text == keys["expr"]


@pytest.mark.parametrize(("value", "problems"), [
    ({}, [(("expr",), "is required")]),
    ("daily", [((), "a schedule must be a mapping of keys to values, not a string 'daily'"),
               (("expr",), "is required")]),
    ({"expr": "* * *"}, [(("expr",), f"'* * *' has 3 fields; write {FORM}")]),
    ({"expr": "@reboot"}, [(("expr",), f"@reboot means at boot, which is not a time a schedule can give; write {FORM} "
                                       "(macros: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)")]),
    ({"expr": "0 0 30 2 *"}, [(("expr",), "'0 0 30 2 *' never runs: day-of-month 30 does not occur in Feb")]),
    ({"expr": "@daily", "tz": "Mars/Olympus"},
     [(("tz",), "unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/London or UTC")]),
    ({"expr": "@daily", "dst": {"gap": "later"}}, [(("dst", "gap"), "'later' is not one of shift, skip")]),
    ({"expr": "@daily", "dst": {"fold": "last"}}, [(("dst", "fold"), "'last' is not one of first, second, both")]),
    ({"expr": "@daily", "dst": "skip"}, [(("dst",), "dst must be a mapping of keys to values, not a string 'skip'")]),
    ({"expr": "@daily", "dst": {"when": 1}}, [(("dst", "when"), "unknown key; allowed here: fold, gap")]),
    ({"expr": "@daily", "daytime": "09:00"},
     [(("daytime",), "unknown key; allowed here: args, dst, enabled, expr, tz")]),
    ({"expr": "@daily", "args": {"a": [1]}}, [(("args", "a"), "must be a string, not a list")]),
    # everything at once
    ({"expr": "60 24 * * *", "tz": 5, "enabled": "yes"},
     [(("expr",), "minute: 60 is out of range 0-59"), (("expr",), "hour: 24 is out of range 0-23"),
      (("tz",), "must be a time zone name such as Europe/London or UTC, not a number 5"),
      (("enabled",), "must be true or false, not a string 'yes'")]),
])
def test_refused(value: Any, problems: list[tuple[tuple[str, ...], str]]) -> None:
    with pytest.raises(InvalidFields) as caught:
        CronSchedule.parse(Fields(value, "a schedule"), Context())
    assert caught.value.problems == problems


# (keys, start, the next instants in UTC)
TIMES: list[tuple[dict[str, Any], str, list[str]]] = [
    ({"expr": "*/15 9-17 * * Mon-Fri"}, "2026-03-06 16:50",  # a Friday
     ["2026-03-06 17:00", "2026-03-06 17:15", "2026-03-06 17:30", "2026-03-06 17:45", "2026-03-09 09:00",
      "2026-03-09 09:15"]),
    ({"expr": "*/15 9-17 * * Mon-Fri", "tz": "Europe/London"}, "2026-07-03 16:40",  # BST
     ["2026-07-03 16:45", "2026-07-06 08:00", "2026-07-06 08:15"]),
    ({"expr": "*/15 9-17 * * Mon-Fri", "tz": "Europe/London"}, "2026-01-09 17:40",  # GMT
     ["2026-01-09 17:45", "2026-01-12 09:00", "2026-01-12 09:15"]),
    ({"expr": "@hourly"}, "2026-05-04 10:30", ["2026-05-04 11:00", "2026-05-04 12:00", "2026-05-04 13:00"]),
    ({"expr": "@daily", "tz": "Asia/Kolkata"}, "2026-05-04 00:00", ["2026-05-04 18:30", "2026-05-05 18:30"]),
    ({"expr": "0 9 * * *", "tz": "Asia/Kolkata"}, "2026-05-04 00:00", ["2026-05-04 03:30", "2026-05-05 03:30"]),
    ({"expr": "30 8 * * *", "tz": "Pacific/Chatham"}, "2026-05-04 00:00",  # +12:45
     ["2026-05-04 19:45", "2026-05-05 19:45"]),
    ({"expr": "0 12 * * *", "tz": "America/St_Johns"}, "2026-07-01 00:00",  # -02:30
     ["2026-07-01 14:30", "2026-07-02 14:30"]),
    ({"expr": "@yearly"}, "2026-06-01 00:00", ["2027-01-01 00:00", "2028-01-01 00:00"]),
    ({"expr": "@annually", "tz": "Asia/Tokyo"}, "2026-06-01 00:00", ["2026-12-31 15:00", "2027-12-31 15:00"]),
    ({"expr": "@monthly", "tz": "America/New_York"}, "2026-01-15 00:00",
     ["2026-02-01 05:00", "2026-03-01 05:00", "2026-04-01 04:00"]),
    ({"expr": "@weekly"}, "2026-03-04 00:00", ["2026-03-08 00:00", "2026-03-15 00:00"]),  # Sundays
    ({"expr": "@midnight"}, "2026-03-04 00:00", ["2026-03-04 00:00", "2026-03-05 00:00"]),
    ({"expr": "0 0 29 2 *"}, "2026-01-01 00:00", ["2028-02-29 00:00", "2032-02-29 00:00"]),
    ({"expr": "0 0 29 2 */7"}, "2026-01-01 00:00", ["2032-02-29 00:00", "2060-02-29 00:00"]),
    ({"expr": "0 0 31 * *"}, "2026-04-01 00:00", ["2026-05-31 00:00", "2026-07-31 00:00", "2026-08-31 00:00"]),
    ({"expr": "0 0 1 Jan,Jul *"}, "2026-01-01 00:01", ["2026-07-01 00:00", "2027-01-01 00:00"]),
    # Vixie's rule: both day fields restricted, so the 13th OR a Friday
    ({"expr": "0 12 13 * Fri"}, "2026-03-01 00:00",
     ["2026-03-06 12:00", "2026-03-13 12:00", "2026-03-20 12:00", "2026-03-27 12:00", "2026-04-03 12:00",
      "2026-04-10 12:00", "2026-04-13 12:00", "2026-04-17 12:00"]),
    ({"expr": "0 12 13 * *"}, "2026-03-01 00:00", ["2026-03-13 12:00", "2026-04-13 12:00", "2026-05-13 12:00"]),
    ({"expr": "0 12 * * Fri"}, "2026-03-01 00:00", ["2026-03-06 12:00", "2026-03-13 12:00", "2026-03-20 12:00"]),
    # a day field starting with * is not "restricted": odd days AND Fridays
    ({"expr": "0 12 */2 * Fri"}, "2026-03-01 00:00",
     ["2026-03-13 12:00", "2026-03-27 12:00", "2026-04-03 12:00", "2026-04-17 12:00", "2026-05-01 12:00"]),
    ({"expr": "0 12 13 * */7"}, "2026-03-01 00:00", ["2026-09-13 12:00", "2026-12-13 12:00"]),  # Sunday the 13th
    # the start: at or after, in any offset
    ({"expr": "0 * * * *"}, "2026-05-04 10:00", ["2026-05-04 10:00", "2026-05-04 11:00"]),
    ({"expr": "0 * * * *"}, "2026-05-04 10:00:00.000001", ["2026-05-04 11:00", "2026-05-04 12:00"]),
    ({"expr": "0 * * * *"}, "2026-05-04T12:30:00+02:00", ["2026-05-04 11:00", "2026-05-04 12:00"]),
    ({"expr": "0 0 * * *", "tz": "America/Los_Angeles"}, "2026-05-04T23:59:59-07:00",
     ["2026-05-05 07:00", "2026-05-06 07:00"]),
    # Apia skipped 2011-12-30: the fixed time of that day runs when the clocks jump
    ({"expr": "0 12 * * *", "tz": "Pacific/Apia"}, "2011-12-29 00:00",
     ["2011-12-29 22:00", "2011-12-30 10:00", "2011-12-30 22:00"]),
    ({"expr": "0 12 * * *", "tz": "Pacific/Apia", "dst": {"gap": "skip"}}, "2011-12-29 00:00",
     ["2011-12-29 22:00", "2011-12-30 22:00"]),
    # ... and a wildcard expression skips it: 18:00 on the 29th, then midnight on the 31st
    ({"expr": "0 */6 * * *", "tz": "Pacific/Apia"}, "2011-12-29 20:00",
     ["2011-12-29 22:00", "2011-12-30 04:00", "2011-12-30 10:00", "2011-12-30 16:00"]),
    # St. John's went back from 00:01 to 23:01 of the day before: a fold across midnight
    ({"expr": "*/15 * * * *", "tz": "America/St_Johns"}, "2009-11-01 02:00",
     ["2009-11-01 02:00", "2009-11-01 02:15", "2009-11-01 02:30", "2009-11-01 02:45", "2009-11-01 03:00",
      "2009-11-01 03:15", "2009-11-01 03:30"]),
    ({"expr": "*/15 * * * *", "tz": "America/St_Johns"}, "2009-11-01 02:40",
     ["2009-11-01 02:45", "2009-11-01 03:00"]),
    ({"expr": "0 0 * * *", "tz": "America/St_Johns"}, "2009-10-31 12:00", ["2009-11-01 02:30", "2009-11-02 03:30"]),
    ({"expr": "0 0 * * *", "tz": "America/St_Johns", "dst": {"fold": "second"}}, "2009-10-31 12:00",
     ["2009-11-01 03:30", "2009-11-02 03:30"]),
]


@pytest.mark.parametrize(("keys", "start", "expected"), TIMES)
def test_times(keys: dict[str, Any], start: str, expected: list[str]) -> None:
    assert instants(keys, start, len(expected)) == expected


def test_every_minute_of_a_day() -> None:
    got = [due.time for due in itertools.islice(schedule(expr="* * * * *", tz="Europe/Berlin").times(
        at("2026-05-04 00:00")), 1440)]
    assert got == [at("2026-05-04 00:00") + timedelta(minutes=n) for n in range(1440)]


def test_ends_with_the_calendar() -> None:
    assert [due.time.year for due in schedule(expr="0 0 31 12 *").times(at("9997-06-01 00:00"))] == [9997, 9998]


def test_a_rare_day_is_found_without_scanning() -> None:
    began = time.perf_counter()
    assert instants({"expr": "59 23 29 2 */7", "tz": "Pacific/Auckland"}, "2033-01-01 00:00", 1) == ["2060-02-29 10:59"]
    assert time.perf_counter() - began < 0.5


def args(keys: dict[str, Any], start: str, count: int = 1) -> list[tuple[str, dict[str, str]]]:
    return [(due.time.strftime("%Y-%m-%d %H:%M"), dict(due.args)) for due in upcoming(keys, start, count)]


def auto(time: str, schedule_time: str, daytime: str = "") -> dict[str, str]:
    """The auto args: `time` is the run's wall time in the zone; `date` and `daytime` the nominal ones."""
    return {"time": time, "date": time[:10], "daytime": daytime or time[11:19], "schedule_time": schedule_time}


@pytest.mark.parametrize(("keys", "start", "count", "expected"), [
    ({"expr": "30 9 * * *", "tz": "Europe/London"}, "2026-07-01 00:00", 1,
     [("2026-07-01 08:30", auto("2026-07-01T09:30:00+01:00", "2026-07-01T08:30:00+00:00"))]),
    ({"expr": "30 9 * * *"}, "2026-07-01 00:00", 1,
     [("2026-07-01 09:30", auto("2026-07-01T09:30:00+00:00", "2026-07-01T09:30:00+00:00"))]),
    # the job's own args win over the auto args
    ({"expr": "30 9 * * *", "args": {"date": "yesterday", "region": "US"}}, "2026-07-01 00:00", 1,
     [("2026-07-01 09:30", {**auto("2026-07-01T09:30:00+00:00", "2026-07-01T09:30:00+00:00"), "date": "yesterday",
                            "region": "US"})]),
    # a skipped time keeps its nominal daytime; its time is when it runs
    ({"expr": "30 2 * * *", "tz": "America/New_York"}, "2026-03-08 00:00", 1,
     [("2026-03-08 07:00", auto("2026-03-08T03:00:00-04:00", "2026-03-08T07:00:00+00:00", "02:30:00"))]),
    # both occurrences of a repeated time, told apart by their offsets
    ({"expr": "30 1 * * *", "tz": "America/New_York", "dst": {"fold": "both"}}, "2026-11-01 00:00", 2,
     [("2026-11-01 05:30", auto("2026-11-01T01:30:00-04:00", "2026-11-01T05:30:00+00:00")),
      ("2026-11-01 06:30", auto("2026-11-01T01:30:00-05:00", "2026-11-01T06:30:00+00:00"))]),
    # shifted onto the instant of a real matching time: one run, carrying the real time
    ({"expr": "0 * * * *", "tz": "America/New_York", "dst": {"gap": "shift"}}, "2026-03-08 06:30", 2,
     [("2026-03-08 07:00", auto("2026-03-08T03:00:00-04:00", "2026-03-08T07:00:00+00:00")),
      ("2026-03-08 08:00", auto("2026-03-08T04:00:00-04:00", "2026-03-08T08:00:00+00:00"))]),
    ({"expr": "0 2,3 * * *", "tz": "America/New_York"}, "2026-03-08 00:00", 2,
     [("2026-03-08 07:00", auto("2026-03-08T03:00:00-04:00", "2026-03-08T07:00:00+00:00")),
      ("2026-03-09 06:00", auto("2026-03-09T02:00:00-04:00", "2026-03-09T06:00:00+00:00"))]),
    # several shifted times and no real one: the earliest
    ({"expr": "0,30 2 * * *", "tz": "America/New_York"}, "2026-03-08 00:00", 2,
     [("2026-03-08 07:00", auto("2026-03-08T03:00:00-04:00", "2026-03-08T07:00:00+00:00", "02:00:00")),
      ("2026-03-09 06:00", auto("2026-03-09T02:00:00-04:00", "2026-03-09T06:00:00+00:00"))]),
    # Apia's skipped day shifts onto the next midnight, a real matching time of the next day
    ({"expr": "0 0,12 * * *", "tz": "Pacific/Apia"}, "2011-12-29 20:00", 3,
     [("2011-12-29 22:00", auto("2011-12-29T12:00:00-10:00", "2011-12-29T22:00:00+00:00")),
      ("2011-12-30 10:00", auto("2011-12-31T00:00:00+14:00", "2011-12-30T10:00:00+00:00")),
      ("2011-12-30 22:00", auto("2011-12-31T12:00:00+14:00", "2011-12-30T22:00:00+00:00"))]),
])
def test_args(keys: dict[str, Any], start: str, count: int, expected: list[tuple[str, dict[str, str]]]) -> None:
    assert args(keys, start, count) == expected


def test_arg_names() -> None:
    assert schedule(expr="@daily").arg_names() == {"time", "date", "daytime", "schedule_time"}
    assert schedule(expr="@daily", args={"region": "US", "date": "x"}).arg_names() == {
        "time", "date", "daytime", "schedule_time", "region"}


def hours(day: str, *times: str) -> list[str]:
    return [f"{day} {moment}" for moment in times]


def quarters(day: str, first: str, last: str) -> list[str]:
    """Every quarter hour from first to last inclusive, on day."""
    begin, end = at(f"{day} {first}"), at(f"{day} {last}")
    return [(begin + timedelta(minutes=15 * n)).strftime("%Y-%m-%d %H:%M")
            for n in range((end - begin) // timedelta(minutes=15) + 1)]


# New York: 02:00 EST -> 03:00 EDT at 07:00Z in the spring; 02:00 EDT -> 01:00 EST at 06:00Z in the fall
SPRING, FALL = "2026-03-08", "2026-11-01"
DEFAULT: dict[str, str] = {}
OVERRIDES = [{"gap": "shift"}, {"gap": "skip"}, {"fold": "first"}, {"fold": "second"}, {"fold": "both"}]

# (expr, day, dst override, the runs from 04:00Z to 09:00Z of that day)
TRAPS: list[tuple[str, str, dict[str, str], list[str]]] = [
    # 02:30 does not exist on the spring day: a fixed time runs when the clocks jump, 03:00 EDT
    *[("30 2 * * *", SPRING, dst, hours(SPRING, "07:00")) for dst in (DEFAULT, *OVERRIDES) if dst != {"gap": "skip"}],
    ("30 2 * * *", SPRING, {"gap": "skip"}, []),
    *[("30 2 * * *", FALL, dst, hours(FALL, "07:30")) for dst in (DEFAULT, *OVERRIDES)],
    # hourly: the skipped 02:00 is no run of its own (shifted, it is the 03:00 run); 01:00 twice in the fall
    *[("0 * * * *", SPRING, dst, hours(SPRING, "04:00", "05:00", "06:00", "07:00", "08:00"))
      for dst in (DEFAULT, *OVERRIDES)],
    *[("0 * * * *", FALL, dst, hours(FALL, "04:00", "05:00", "06:00", "07:00", "08:00"))
      for dst in (DEFAULT, {"gap": "shift"}, {"gap": "skip"}, {"fold": "both"})],
    ("0 * * * *", FALL, {"fold": "first"}, hours(FALL, "04:00", "05:00", "07:00", "08:00")),
    ("0 * * * *", FALL, {"fold": "second"}, hours(FALL, "04:00", "06:00", "07:00", "08:00")),
    # every 15 minutes: none of 02:00-02:45 in the spring, 01:00-01:45 twice in the fall
    *[("*/15 * * * *", SPRING, dst, quarters(SPRING, "04:00", "06:45") + quarters(SPRING, "07:00", "08:45"))
      for dst in (DEFAULT, *OVERRIDES)],
    *[("*/15 * * * *", FALL, dst, quarters(FALL, "04:00", "08:45"))
      for dst in (DEFAULT, {"gap": "shift"}, {"gap": "skip"}, {"fold": "both"})],
    ("*/15 * * * *", FALL, {"fold": "first"}, quarters(FALL, "04:00", "05:45") + quarters(FALL, "07:00", "08:45")),
    ("*/15 * * * *", FALL, {"fold": "second"}, quarters(FALL, "04:00", "04:45") + quarters(FALL, "06:00", "08:45")),
    # 01:30 exists once in the spring, twice in the fall: a fixed time runs the first time
    *[("30 1 * * *", SPRING, dst, hours(SPRING, "06:30")) for dst in (DEFAULT, *OVERRIDES)],
    *[("30 1 * * *", FALL, dst, hours(FALL, "05:30"))
      for dst in (DEFAULT, {"gap": "shift"}, {"gap": "skip"}, {"fold": "first"})],
    ("30 1 * * *", FALL, {"fold": "second"}, hours(FALL, "06:30")),
    ("30 1 * * *", FALL, {"fold": "both"}, hours(FALL, "05:30", "06:30")),
]


@pytest.mark.parametrize(("expr", "day", "dst", "expected"), TRAPS)
def test_new_york_traps(expr: str, day: str, dst: dict[str, str], expected: list[str]) -> None:
    keys: dict[str, Any] = {"expr": expr, "tz": "America/New_York", **({"dst": dst} if dst else {})}
    runs = itertools.takewhile(lambda due: due.time < at(f"{day} 09:00"), schedule(**keys).times(at(f"{day} 04:00")))
    assert [due.time.strftime("%Y-%m-%d %H:%M") for due in runs] == expected


@pytest.mark.parametrize("minutes", range(0, 150, 5))
def test_starting_anywhere_around_a_fold(minutes: int) -> None:
    """From any start, the runs are the tail of the runs from before the change."""
    start = at(f"{FALL} 04:40") + timedelta(minutes=minutes)
    every = schedule(expr="*/15 * * * *", tz="America/New_York")
    whole = [due.time for due in itertools.islice(every.times(at(f"{FALL} 04:00")), 24)]
    tail = [due.time for due in itertools.islice(every.times(start), 3)]
    assert tail == [moment for moment in whole if moment >= start][:3]
