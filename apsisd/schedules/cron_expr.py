"""A crontab time expression, `*/15 9-17 * * Mon-Fri`, parsed into the values each field allows.

The syntax and the day rule are Vixie cron's (cronie and Debian's cron are
its descendants), so a line copied from a crontab means here what it meant
there: names are three letters and case-insensitive, 0 and 7 are both
Sunday, and when day-of-month and day-of-week are both restricted a day
matches if EITHER does. Whether a field "is restricted" is decided by its
first character, as cron does: `*/2` counts as a star.

Anything cron would accept silently but ambiguously (`5/15`, a backwards
range, a day no month has) is refused here with what to write instead, so a
schedule that never runs cannot be loaded.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, date
from typing import Any

from apsisd.errors import InvalidFields, invalid
from apsisd.fields import MAX_EXPRESSION, bounded, describe

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = {name.lower(): number for number, name in enumerate(MONTHS, start=1)}
DAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # the most each month can have
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MACRO_LIST = ", ".join(MACROS)
FORM = "5 fields (minute hour day-of-month month day-of-week), e.g. '*/15 9-17 * * Mon-Fri', or a macro such as @daily"
ITEM = re.compile(r"(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(.*))?", re.ASCII | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Field:
    """One of the five positions of a crontab line: its name, its range and the names it takes."""

    name: str
    low: int
    high: int
    names: Mapping[str, int]
    hint: str = ""

    def parse(self, text: str) -> frozenset[int]:
        """The values `text` (a comma-separated list of items) allows."""
        values: set[int] = set()
        for item in text.split(","):
            values.update(self._item(item, text))
        return frozenset(values)

    def _item(self, item: str, text: str) -> range:
        if not item:
            raise invalid(f"{self.name}: empty item in {text!r}")
        match = ITEM.fullmatch(item)
        if match is None:
            raise invalid(f"{self.name}: {item!r} is not a value, a range a-b or * (each may take a /step)")
        span, step_text = match.groups()
        if span == "*":
            low, high = self.low, self.high
        else:
            first, _, last = span.partition("-")
            low = self._value(first)
            high = self._value(last) if last else low
            if high < low:
                raise invalid(f"{self.name}: range {span} is backwards; write the smaller value first")
            if step_text is not None and not last:
                raise invalid(f"{self.name}: {item!r} has a step but no range; write {span}-{self.high}/{step_text} "
                              f"or */{step_text}")
        return range(low, high + 1, self._step(step_text, item))

    def _value(self, text: str) -> int:
        number = self.names.get(text.lower()) if not text.isdigit() else int(text)
        if number is None:
            raise invalid(f"{self.name}: {text!r} is not a number {self.low}-{self.high}{self.hint}")
        if not self.low <= number <= self.high:
            raise invalid(f"{self.name}: {number} is out of range {self.low}-{self.high}{self.hint}")
        return number

    def _step(self, text: str | None, item: str) -> int:
        if text is None:
            return 1
        if not (text.isascii() and text.isdigit()):
            raise invalid(f"{self.name}: step {text!r} in {item!r} is not a whole number")
        if int(text) == 0:
            raise invalid(f"{self.name}: step 0 in {item!r} must be at least 1")
        return int(text)


FIELDS = (Field("minute", 0, 59, {}), Field("hour", 0, 23, {}), Field("day-of-month", 1, 31, {}),
          Field("month", 1, 12, MONTH_NAMES, " or a name Jan-Dec"),
          Field("day-of-week", 0, 7, DAY_NAMES, " or a name Sun-Sat (0 and 7 are Sunday)"))


@dataclass(frozen=True, slots=True, kw_only=True)
class CronExpr:
    """The values a crontab expression allows, and which days and times of day it matches.

    `weekdays` counts as date.weekday() does (0 = Monday). `day_or` is
    Vixie's rule: both day fields restricted, so either may match. `fixed`
    is cron's "fixed-time job": neither the minute nor the hour field starts
    with `*`; the DST defaults depend on it (see apsisd.schedules.cron).
    """

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_or: bool
    fixed: bool

    def matches(self, day: date) -> bool:
        """Whether the day fields and the month allow `day`."""
        return day.month in self.months and self._day_allowed(day.day, day.weekday())

    def days_from(self, first: date) -> Iterator[date]:
        """Every matching day from `first` on, in order, jumping over months the expression excludes.

        Ends before the last year a date can hold; parse_expr() refuses
        expressions that match no day, so the next one is never more than a
        few decades of months away.
        """
        year, month = first.year, first.month
        while year < MAXYEAR:
            if month in self.months:
                weekday, length = calendar.monthrange(year, month)
                start = first.day if (year, month) == (first.year, first.month) else 1
                for day in range(start, length + 1):
                    if self._day_allowed(day, (weekday + day - 1) % 7):
                        yield date(year, month, day)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def _day_allowed(self, day: int, weekday: int) -> bool:
        if self.day_or:
            return day in self.days or weekday in self.weekdays
        return day in self.days and weekday in self.weekdays


def parse_expr(value: Any) -> CronExpr:
    """A crontab expression from its text (5 fields or a macro); every field's problem at once."""
    if not isinstance(value, str):
        raise invalid(f"must be a crontab expression: {FORM}; not {describe(value)}")
    text = bounded(value, "a crontab expression", MAX_EXPRESSION).strip()
    if text.startswith("@"):
        text = _macro(text)
    parts = text.split()
    if len(parts) != len(FIELDS):
        counted = f"has {len(parts)} fields" if parts else "is empty"
        raise invalid(f"{value!r} {counted}; write {FORM}")
    sets: list[frozenset[int]] = []
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for field, part in zip(FIELDS, parts, strict=True):
        try:
            sets.append(field.parse(part))
        except InvalidFields as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidFields(problems)
    minutes, hours, days, months, weekdays = sets
    minute_text, hour_text, day_text, _, weekday_text = parts
    expr = CronExpr(text=value.strip(), minutes=tuple(sorted(minutes)), hours=tuple(sorted(hours)), days=days,
                    months=months, weekdays=frozenset((number - 1) % 7 for number in weekdays),
                    day_or=not day_text.startswith("*") and not weekday_text.startswith("*"),
                    fixed=not minute_text.startswith("*") and not hour_text.startswith("*"))
    _check_some_day(expr)
    return expr


def _macro(text: str) -> str:
    name = text.lower()
    if name == "@reboot":
        raise invalid(f"@reboot means at boot, which is not a time a schedule can give; write {FORM} "
                      f"(macros: {MACRO_LIST})")
    if name not in MACROS:
        raise invalid(f"unknown macro {text!r}; use one of {MACRO_LIST}, or 5 fields")
    return MACROS[name]


def _check_some_day(expr: CronExpr) -> None:
    """Refuse a day-of-month no allowed month ever has (Feb 30): such a schedule would never run.

    Only the day-of-month can be impossible: with Vixie's OR any weekday
    will do, and every possible (month, day) falls on every weekday in turn
    over the years.
    """
    if expr.day_or or any(day <= MONTH_DAYS[month - 1] for month in expr.months for day in expr.days):
        return
    days = ",".join(str(day) for day in sorted(expr.days))
    months = ", ".join(MONTHS[month - 1] for month in sorted(expr.months))
    raise invalid(f"{expr.text!r} never runs: day-of-month {days} does not occur in {months}")
