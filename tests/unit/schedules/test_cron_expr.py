"""parse_expr(): every syntax form and every refusal with its message; the day rule and day iteration."""
from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest

from apsisd.errors import InvalidFields
from apsisd.schedules.cron_expr import CronExpr, parse_expr

MINUTES = tuple(range(60))
HOURS = tuple(range(24))
DAYS = frozenset(range(1, 32))
MONTHS = frozenset(range(1, 13))
WEEK = frozenset(range(7))
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)  # date.weekday()
FORM = ("5 fields (minute hour day-of-month month day-of-week), e.g. '*/15 9-17 * * Mon-Fri', "
        "or a macro such as @daily")
MACROS = "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"


def fields(minutes: tuple[int, ...] = MINUTES, hours: tuple[int, ...] = HOURS, days: frozenset[int] = DAYS,
           months: frozenset[int] = MONTHS, weekdays: frozenset[int] = WEEK, day_or: bool = False,
           fixed: bool = False) -> dict[str, Any]:
    return {"minutes": minutes, "hours": hours, "days": days, "months": months, "weekdays": weekdays,
            "day_or": day_or, "fixed": fixed}


# (text, the parsed fields)
VALID: list[tuple[str, dict[str, Any]]] = [
    ("* * * * *", fields()),
    ("0 0 * * *", fields(minutes=(0,), hours=(0,), fixed=True)),
    ("30 2 * * *", fields(minutes=(30,), hours=(2,), fixed=True)),
    # lists, ranges, steps
    ("0,30 * * * *", fields(minutes=(0, 30))),
    ("*/15 * * * *", fields(minutes=(0, 15, 30, 45))),
    ("*/90 * * * *", fields(minutes=(0,))),
    ("5-59/20 * * * *", fields(minutes=(5, 25, 45))),
    ("10-12 * * * *", fields(minutes=(10, 11, 12))),
    ("0,30 9-17/4 * * *", fields(minutes=(0, 30), hours=(9, 13, 17), fixed=True)),
    ("1-3,2-4,59 0 * * *", fields(minutes=(1, 2, 3, 4, 59), hours=(0,), fixed=True)),
    ("*/15 9-17 * * Mon-Fri", fields(minutes=(0, 15, 30, 45), hours=tuple(range(9, 18)),
                                     weekdays=frozenset({MON, TUE, WED, THU, FRI}))),
    # the fixed-time / wildcard split looks at the first character, as cron does
    ("* 2 * * *", fields(hours=(2,))),
    ("0 */2 * * *", fields(minutes=(0,), hours=tuple(range(0, 24, 2)))),
    ("0-59 2 * * *", fields(hours=(2,), fixed=True)),
    # months: numbers and names, any case
    ("0 0 * Jan,jul *", fields(minutes=(0,), hours=(0,), months=frozenset({1, 7}), fixed=True)),
    ("0 0 * FEB-apr *", fields(minutes=(0,), hours=(0,), months=frozenset({2, 3, 4}), fixed=True)),
    ("0 0 * */3 *", fields(minutes=(0,), hours=(0,), months=frozenset({1, 4, 7, 10}), fixed=True)),
    ("0 0 * Jan-Dec/6 *", fields(minutes=(0,), hours=(0,), months=frozenset({1, 7}), fixed=True)),
    # weekdays: 0 and 7 are Sunday, names any case
    ("0 0 * * 0", fields(minutes=(0,), hours=(0,), weekdays=frozenset({SUN}), fixed=True)),
    ("0 0 * * 7", fields(minutes=(0,), hours=(0,), weekdays=frozenset({SUN}), fixed=True)),
    ("0 0 * * 0,7", fields(minutes=(0,), hours=(0,), weekdays=frozenset({SUN}), fixed=True)),
    ("0 0 * * 5-7", fields(minutes=(0,), hours=(0,), weekdays=frozenset({FRI, SAT, SUN}), fixed=True)),
    ("0 0 * * sun,SAT", fields(minutes=(0,), hours=(0,), weekdays=frozenset({SAT, SUN}), fixed=True)),
    ("0 0 * * mon-FRI", fields(minutes=(0,), hours=(0,), weekdays=frozenset({MON, TUE, WED, THU, FRI}),
                               fixed=True)),
    ("0 0 * * */2", fields(minutes=(0,), hours=(0,), weekdays=frozenset({SUN, TUE, THU, SAT}), fixed=True)),
    # Vixie's day rule: OR only when both day fields are restricted
    ("0 0 1,15 * Sun", fields(minutes=(0,), hours=(0,), days=frozenset({1, 15}), weekdays=frozenset({SUN}),
                              day_or=True, fixed=True)),
    ("0 0 1 * *", fields(minutes=(0,), hours=(0,), days=frozenset({1}), fixed=True)),
    ("0 0 */2 * Mon", fields(minutes=(0,), hours=(0,), days=frozenset(range(1, 32, 2)),
                             weekdays=frozenset({MON}), fixed=True)),
    ("0 0 1 * */7", fields(minutes=(0,), hours=(0,), days=frozenset({1}), weekdays=frozenset({SUN}), fixed=True)),
    # possible days
    ("0 0 29 2 *", fields(minutes=(0,), hours=(0,), days=frozenset({29}), months=frozenset({2}), fixed=True)),
    ("0 0 31 * *", fields(minutes=(0,), hours=(0,), days=frozenset({31}), fixed=True)),
    ("0 0 30 2 Mon", fields(minutes=(0,), hours=(0,), days=frozenset({30}), months=frozenset({2}),
                            weekdays=frozenset({MON}), day_or=True, fixed=True)),
    # blanks
    ("  30   2 * *\t*  ", fields(minutes=(30,), hours=(2,), fixed=True)),
    # macros, any case; @hourly is a wildcard job, as in cronie (HR_STAR)
    ("@yearly", fields(minutes=(0,), hours=(0,), days=frozenset({1}), months=frozenset({1}), fixed=True)),
    ("@annually", fields(minutes=(0,), hours=(0,), days=frozenset({1}), months=frozenset({1}), fixed=True)),
    ("@monthly", fields(minutes=(0,), hours=(0,), days=frozenset({1}), fixed=True)),
    ("@weekly", fields(minutes=(0,), hours=(0,), weekdays=frozenset({SUN}), fixed=True)),
    ("@daily", fields(minutes=(0,), hours=(0,), fixed=True)),
    ("@midnight", fields(minutes=(0,), hours=(0,), fixed=True)),
    ("@DAILY", fields(minutes=(0,), hours=(0,), fixed=True)),
    ("@hourly", fields(minutes=(0,))),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_parse(text: str, expected: dict[str, Any]) -> None:
    assert parse_expr(text) == CronExpr(text=text.strip(), **expected)


def problems(value: Any) -> list[str]:
    with pytest.raises(InvalidFields) as caught:
        parse_expr(value)
    assert all(path == () for path, _ in caught.value.problems)
    return [message for _, message in caught.value.problems]


# (value, every message it gets)
INVALID: list[tuple[Any, list[str]]] = [
    (5, [f"must be a crontab expression: {FORM}; not a number 5"]),
    (None, [f"must be a crontab expression: {FORM}; not nothing (null)"]),
    (["* * * * *"], [f"must be a crontab expression: {FORM}; not a list"]),
    ("", [f"'' is empty; write {FORM}"]),
    ("   ", [f"'   ' is empty; write {FORM}"]),
    ("* * * *", [f"'* * * *' has 4 fields; write {FORM}"]),
    ("0 0 0 * * *", [f"'0 0 0 * * *' has 6 fields; write {FORM}"]),
    ("0 0 * * * /bin/true", [f"'0 0 * * * /bin/true' has 6 fields; write {FORM}"]),
    ("@reboot", [f"@reboot means at boot, which is not a time a schedule can give; write {FORM} (macros: {MACROS})"]),
    ("@Reboot", [f"@reboot means at boot, which is not a time a schedule can give; write {FORM} (macros: {MACROS})"]),
    ("@often", [f"unknown macro '@often'; use one of {MACROS}, or 5 fields"]),
    ("@daily 5", [f"unknown macro '@daily 5'; use one of {MACROS}, or 5 fields"]),
    # out of range, field by field
    ("60 * * * *", ["minute: 60 is out of range 0-59"]),
    ("* 24 * * *", ["hour: 24 is out of range 0-23"]),
    ("* * 0 * *", ["day-of-month: 0 is out of range 1-31"]),
    ("* * 32 * *", ["day-of-month: 32 is out of range 1-31"]),
    ("* * * 0 *", ["month: 0 is out of range 1-12 or a name Jan-Dec"]),
    ("* * * 13 *", ["month: 13 is out of range 1-12 or a name Jan-Dec"]),
    ("* * * * 8", ["day-of-week: 8 is out of range 0-7 or a name Sun-Sat (0 and 7 are Sunday)"]),
    ("55-65 * * * *", ["minute: 65 is out of range 0-59"]),
    # not a number or a name
    ("x * * * *", ["minute: 'x' is not a number 0-59"]),
    ("Mon * * * *", ["minute: 'Mon' is not a number 0-59"]),
    ("* * Jan * *", ["day-of-month: 'Jan' is not a number 1-31"]),
    ("* * * Foo *", ["month: 'Foo' is not a number 1-12 or a name Jan-Dec"]),
    ("* * * January *", ["month: 'January' is not a number 1-12 or a name Jan-Dec"]),
    ("* * * * Funday", ["day-of-week: 'Funday' is not a number 0-7 or a name Sun-Sat (0 and 7 are Sunday)"]),
    ("* * * * Mon-Xyz", ["day-of-week: 'Xyz' is not a number 0-7 or a name Sun-Sat (0 and 7 are Sunday)"]),
    # shapes
    ("*-5 * * * *", ["minute: '*-5' is not a value, a range a-b or * (each may take a /step)"]),
    ("-5 * * * *", ["minute: '-5' is not a value, a range a-b or * (each may take a /step)"]),
    ("1-2-3 * * * *", ["minute: '1-2-3' is not a value, a range a-b or * (each may take a /step)"]),
    ("? * * * *", ["minute: '?' is not a value, a range a-b or * (each may take a /step)"]),
    ("\u00b2 * * * *", ["minute: '\u00b2' is not a value, a range a-b or * (each may take a /step)"]),
    ("1,,2 * * * *", ["minute: empty item in '1,,2'"]),
    ("1, * * * *", ["minute: empty item in '1,'"]),
    ("* 17-9 * * *", ["hour: range 17-9 is backwards; write the smaller value first"]),
    ("* * * * Fri-Sun", ["day-of-week: range Fri-Sun is backwards; write the smaller value first"]),
    ("* * * Dec-Jan *", ["month: range Dec-Jan is backwards; write the smaller value first"]),
    # steps
    ("*/0 * * * *", ["minute: step 0 in '*/0' must be at least 1"]),
    ("*/x * * * *", ["minute: step 'x' in '*/x' is not a whole number"]),
    ("*/ * * * *", ["minute: step '' in '*/' is not a whole number"]),
    ("*/-5 * * * *", ["minute: step '-5' in '*/-5' is not a whole number"]),
    ("*/\u00b2 * * * *", ["minute: step '\u00b2' in '*/\u00b2' is not a whole number"]),
    ("*/5/2 * * * *", ["minute: step '5/2' in '*/5/2' is not a whole number"]),
    ("5/15 * * * *", ["minute: '5/15' has a step but no range; write 5-59/15 or */15"]),
    ("* Jan/2 * * *", ["hour: 'Jan' is not a number 0-23"]),
    ("* * * Jan/2 *", ["month: 'Jan/2' has a step but no range; write Jan-12/2 or */2"]),
    # every field's problem at once
    ("60 24 0 13 8", ["minute: 60 is out of range 0-59", "hour: 24 is out of range 0-23",
                      "day-of-month: 0 is out of range 1-31", "month: 13 is out of range 1-12 or a name Jan-Dec",
                      "day-of-week: 8 is out of range 0-7 or a name Sun-Sat (0 and 7 are Sunday)"]),
    # days no allowed month has: the schedule would never run
    ("0 0 30 2 *", ["'0 0 30 2 *' never runs: day-of-month 30 does not occur in Feb"]),
    ("0 0 30,31 Feb *", ["'0 0 30,31 Feb *' never runs: day-of-month 30,31 does not occur in Feb"]),
    ("0 0 31 2,4,6,9,11 *", ["'0 0 31 2,4,6,9,11 *' never runs: day-of-month 31 does not occur in "
                             "Feb, Apr, Jun, Sep, Nov"]),
    ("0 0 30 2 */7", ["'0 0 30 2 */7' never runs: day-of-month 30 does not occur in Feb"]),
]


@pytest.mark.parametrize(("value", "messages"), INVALID)
def test_refused(value: Any, messages: list[str]) -> None:
    assert problems(value) == messages


def days(text: str, first: date, count: int) -> list[date]:
    return list(itertools.islice(parse_expr(text).days_from(first), count))


# (expression, first day, the next matching days)
DAYS_FROM: list[tuple[str, date, list[date]]] = [
    ("0 0 * * *", date(2026, 2, 27), [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1)]),
    ("0 0 1 * *", date(2026, 11, 2), [date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]),
    ("0 0 31 * *", date(2026, 1, 31), [date(2026, 1, 31), date(2026, 3, 31), date(2026, 5, 31)]),
    ("0 0 29 2 *", date(2026, 1, 1), [date(2028, 2, 29), date(2032, 2, 29), date(2036, 2, 29)]),
    ("0 0 * 2 Mon", date(2026, 3, 5), [date(2027, 2, 1), date(2027, 2, 8)]),
    # both restricted: the 13th OR a Friday
    ("0 0 13 * Fri", date(2026, 3, 1), [date(2026, 3, 6), date(2026, 3, 13), date(2026, 3, 20), date(2026, 3, 27),
                                        date(2026, 4, 3), date(2026, 4, 10), date(2026, 4, 13), date(2026, 4, 17)]),
    # day-of-week starts with *: the 29th of February AND a Sunday
    ("0 0 29 2 */7", date(2026, 1, 1), [date(2032, 2, 29), date(2060, 2, 29)]),
    # day-of-month starts with *: odd days AND Mondays
    ("0 0 */2 * Mon", date(2026, 3, 1), [date(2026, 3, 9), date(2026, 3, 23), date(2026, 4, 13)]),
    ("0 0 * * Sat,Sun", date(2026, 3, 2), [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 14)]),
]


@pytest.mark.parametrize(("text", "first", "expected"), DAYS_FROM)
def test_days_from(text: str, first: date, expected: list[date]) -> None:
    assert days(text, first, len(expected)) == expected


def test_days_end_before_the_calendar_does() -> None:
    assert list(parse_expr("0 0 31 12 *").days_from(date(9997, 6, 1))) == [date(9997, 12, 31), date(9998, 12, 31)]


@pytest.mark.parametrize(("text", "day", "expected"), [
    ("0 0 13 * Fri", date(2026, 4, 13), True),  # a Monday the 13th
    ("0 0 13 * Fri", date(2026, 4, 17), True),  # a Friday the 17th
    ("0 0 13 * Fri", date(2026, 4, 14), False),
    ("0 0 13 * *", date(2026, 4, 17), False),
    ("0 0 * * Fri", date(2026, 4, 13), False),
    ("0 0 * Mar * ", date(2026, 4, 1), False),
    ("0 0 * Apr * ", date(2026, 4, 1), True),
])
def test_matches(text: str, day: date, expected: bool) -> None:
    assert parse_expr(text).matches(day) is expected
