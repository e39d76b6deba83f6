"""parse_calendar(): every spelling of a `calendar:` field, and every refusal with its message."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from apsisd.calendars.calendar import ALL, Calendar
from apsisd.calendars.spec import parse_calendar, weekday_set, weekday_text
from apsisd.errors import InvalidFields

US = Calendar("us", frozenset(range(5)), frozenset({date(2026, 7, 3), date(2026, 12, 25)}))
UK = Calendar("uk", frozenset(range(5)), frozenset({date(2026, 12, 25), date(2026, 12, 28)}))
SIX = Calendar("six", frozenset(range(6)), frozenset({date(2026, 1, 1)}))
NAMED = {"us": US, "uk": UK, "six": SIX}

# (spec, weekdays 0=Mon)
WEEKDAY_SPECS: list[tuple[str, set[int]]] = [
    ("all", {0, 1, 2, 3, 4, 5, 6}),
    ("ALL", {0, 1, 2, 3, 4, 5, 6}),
    ("Mon-Fri", {0, 1, 2, 3, 4}),
    ("mon-fri", {0, 1, 2, 3, 4}),
    ("MON-FRI", {0, 1, 2, 3, 4}),
    ("Tue,Thu", {1, 3}),
    ("Tue, Thu", {1, 3}),
    ("Sat-Mon", {5, 6, 0}),
    ("Fri-Tue", {4, 5, 6, 0, 1}),
    ("Sun", {6}),
    ("Wed-Wed", {2}),
    ("Monday-Friday", {0, 1, 2, 3, 4}),
    ("saturday,sunday", {5, 6}),
    ("Mon,Wed-Fri", {0, 2, 3, 4}),
    ("tues,thurs", {1, 3}),
    ("Mon-Sun", {0, 1, 2, 3, 4, 5, 6}),
    (" Mon-Fri ", {0, 1, 2, 3, 4}),
]


@pytest.mark.parametrize(("spec", "days"), WEEKDAY_SPECS)
def test_weekday_sets(spec: str, days: set[int]) -> None:
    calendar = parse_calendar(spec, NAMED)
    assert calendar.weekdays == frozenset(days)
    assert calendar.holidays == frozenset()


def test_all_is_the_one_all_calendar() -> None:
    assert parse_calendar("all", {}) is ALL
    assert parse_calendar("Mon-Sun", {}) is ALL


def test_weekday_calendar_is_named_as_written() -> None:
    assert parse_calendar(" Mon-Fri ", {}).name == "Mon-Fri"


@pytest.mark.parametrize("spec", ["", "Mon-", "-Fri", "Mon--Fri", "Mon-Tue-Wed", "Monn", "M", "Mon;Tue", "1-5",
                                  "Mon,,Tue", "weekdays"])
def test_not_a_weekday_set(spec: str) -> None:
    assert weekday_set(spec) is None


def test_holiday_calendar_by_name() -> None:
    assert parse_calendar("us", NAMED) is US
    assert parse_calendar(" uk ", NAMED) is UK


def test_combined_calendar() -> None:
    calendar = parse_calendar({"holidays": ["us", "uk"]}, NAMED)
    assert calendar.weekdays == frozenset(range(5))
    assert calendar.holidays == US.holidays | UK.holidays
    assert calendar.name == "Mon-Fri except us, uk"
    assert not calendar.contains(date(2026, 12, 28))
    assert not calendar.contains(date(2026, 7, 3))


def test_combined_calendar_shares_weekdays_of_its_holiday_calendars() -> None:
    assert parse_calendar({"holidays": ["us", "six"]}, NAMED).weekdays == frozenset(range(5))
    assert parse_calendar({"holidays": "six"}, NAMED).weekdays == frozenset(range(6))


def test_combined_calendar_with_weekdays() -> None:
    calendar = parse_calendar({"holidays": "us", "weekdays": "Tue,Thu"}, NAMED)
    assert calendar.weekdays == frozenset({1, 3})
    assert calendar.holidays == US.holidays
    assert calendar.name == "Tue,Thu except us"


KNOWN = "use all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday calendar: six, uk, us"
INVALID: list[tuple[Any, dict[str, Calendar], list[tuple[tuple[str | int, ...], str]]]] = [
    ("Moonday", NAMED, [((), f"unknown calendar 'Moonday'; {KNOWN}")]),
    ("US", NAMED, [((), f"unknown calendar 'US'; {KNOWN}")]),
    ("fr", {}, [((), "unknown calendar 'fr'; use all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday "
                     "calendar: none defined")]),
    (5, NAMED, [((), "must be all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday calendar's name, "
                     "not a number 5")]),
    (None, NAMED, [((), "must be all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday calendar's name, "
                        "not nothing (null)")]),
    (["Mon"], NAMED, [((), "must be all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday calendar's name, "
                           "not a list")]),
    ({}, NAMED, [(("holidays",), "is required")]),
    ({"holidays": []}, NAMED, [(("holidays",), "must name at least one holiday calendar")]),
    ({"holidays": ["us", "fr"]}, NAMED, [(("holidays", 1), "unknown holiday calendar 'fr'; known: six, uk, us")]),
    ({"holidays": "fr"}, {}, [(("holidays",), "unknown holiday calendar 'fr'; known: none defined")]),
    ({"holidays": "us", "weekdays": "Funday"}, NAMED,
     [(("weekdays",), "'Funday' is not a set of weekdays; use all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon")]),
    ({"holidays": "us", "weekday": "Mon"}, NAMED, [(("weekday",), "unknown key; allowed here: holidays, weekdays")]),
    ({"holidays": "us", "weekdays": ["Mon"]}, NAMED, [(("weekdays",), "must be a string, not a list")]),
]


@pytest.mark.parametrize(("value", "named", "problems"), INVALID)
def test_invalid(value: Any, named: dict[str, Calendar], problems: list[Any]) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_calendar(value, named)
    assert caught.value.problems == problems


def test_combined_calendars_sharing_no_weekday() -> None:
    weekend = Calendar("weekend", frozenset({5, 6}))
    with pytest.raises(InvalidFields) as caught:
        parse_calendar({"holidays": ["us", "weekend"]}, {"us": US, "weekend": weekend})
    assert caught.value.problems == [(("weekdays",), "the holiday calendars us, weekend share no weekday; "
                                                     "give weekdays:")]


@pytest.mark.parametrize(("days", "text"), [
    ({0, 1, 2, 3, 4}, "Mon-Fri"), ({1, 3}, "Tue,Thu"), (set(range(7)), "all"), ({5, 6}, "Sat-Sun"),
    ({0, 5, 6}, "Mon,Sat-Sun"), ({2}, "Wed"), ({0, 1, 3, 4}, "Mon-Tue,Thu-Fri"),
])
def test_weekday_text(days: set[int], text: str) -> None:
    assert weekday_text(frozenset(days)) == text
    assert weekday_set(text) == frozenset(days)
