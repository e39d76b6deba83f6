"""How a job names a calendar: `all`, a set of weekdays, a holiday calendar, or weekdays minus holidays.

One parser for every `calendar:` field, so each schedule accepts the same
spellings and refuses a wrong one with the same message.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from apsisd.calendars.calendar import ALL, WEEKDAYS, Calendar
from apsisd.errors import invalid
from apsisd.fields import MAX_TEXT, Fields, bounded, describe, each, string

FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_NUMBERS = {
    **{name.lower(): number for number, name in enumerate(WEEKDAYS)},
    **{name: number for number, name in enumerate(FULL_NAMES)},
    "tues": 1, "weds": 2, "thur": 3, "thurs": 3,
}
SPEC_HELP = "all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon"


def parse_calendar(value: Any, named: Mapping[str, Calendar]) -> Calendar:
    """The calendar a `calendar:` field names.

    A string is `all`, a weekday set, or the name of a holiday calendar in
    `named`; a mapping `{weekdays, holidays}` takes the listed holiday
    calendars' holidays (and, unless `weekdays` is given, the weekdays they
    all share).
    """
    if isinstance(value, Mapping):
        return _combined(value, named)
    if not isinstance(value, str):
        raise invalid(f"must be {SPEC_HELP}, or a holiday calendar's name, not {describe(value)}")
    text = bounded(value, "a calendar name or weekday set").strip()
    if text in named:
        return named[text]
    weekdays = weekday_set(text)
    if weekdays is None:
        raise invalid(f"unknown calendar {value!r}; use {SPEC_HELP}, or a holiday calendar: {_known(named)}")
    return ALL if len(weekdays) == 7 else Calendar(text, weekdays)


@functools.lru_cache(maxsize=256)
def weekday_set(text: str) -> frozenset[int] | None:
    """The weekdays (0 = Monday) a spec such as `all`, `Mon-Fri`, `Tue, Thu` or `Sat-Mon` names; None if none.

    Cached: a folder's schedules and templates name the same few specs thousands of times. None too for a
    text longer than any spec (MAX_TEXT): split on `,` and stripped, in one pass (the regular expression this
    replaces was tried again at every space, quadratic in a long run of them).
    """
    if len(text) > MAX_TEXT:
        return None
    if text.strip().lower() == "all":
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        ends = [DAY_NUMBERS.get(end.strip().lower()) for end in part.split("-")]
        if not 1 <= len(ends) <= 2 or None in ends:
            return None
        first, last = ends[0], ends[-1]
        assert first is not None and last is not None
        days.update((first + step) % 7 for step in range((last - first) % 7 + 1))
    return frozenset(days)


def _combined(value: Mapping[str, Any], named: Mapping[str, Calendar]) -> Calendar:
    fields = Fields(value, "calendar")
    names = fields.take("holidays", _holiday_names(named))
    weekdays_text = fields.take("weekdays", _weekdays, None)
    fields.done()
    calendars = [named[name] for name in names]
    weekdays = weekday_set(weekdays_text) if weekdays_text else frozenset.intersection(
        *(calendar.weekdays for calendar in calendars))
    if not weekdays:
        raise invalid(f"the holiday calendars {', '.join(names)} share no weekday; give weekdays:").under("weekdays")
    holidays = frozenset().union(*(calendar.holidays for calendar in calendars))
    return Calendar(f"{weekdays_text or weekday_text(weekdays)} except {', '.join(names)}", weekdays, holidays)


def _holiday_names(named: Mapping[str, Calendar]) -> Any:
    def one(value: Any) -> str:
        name = string(value).strip()
        if name not in named:
            raise invalid(f"unknown holiday calendar {name!r}; known: {_known(named)}")
        return name

    def parse(value: Any) -> list[str]:
        names = each(one)(value)
        if not names:
            raise invalid("must name at least one holiday calendar")
        return names

    return parse


def _weekdays(value: Any) -> str:
    text = bounded(string(value), "a weekday set").strip()
    if weekday_set(text) is None:
        raise invalid(f"{text!r} is not a set of weekdays; use {SPEC_HELP}")
    return text


def weekday_text(weekdays: frozenset[int]) -> str:
    """`Mon-Fri`, `Tue,Thu`, `all`: how a weekday set is named back to an operator."""
    if len(weekdays) == 7:
        return "all"
    runs: list[list[int]] = []
    for day in sorted(weekdays):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(WEEKDAYS[run[0]] if len(run) == 1 else f"{WEEKDAYS[run[0]]}-{WEEKDAYS[run[-1]]}" for run in runs)


def _known(named: Mapping[str, Calendar]) -> str:
    return ", ".join(sorted(named)) or "none defined"

