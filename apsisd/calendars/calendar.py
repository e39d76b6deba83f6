"""A business calendar: which dates count (weekdays minus holidays), and stepping over the rest.

Schedules run on the dates of a calendar, `cal_shift` moves by its dates, and
templates ask it for the previous or next business day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Calendar:
    """Dates whose weekday (0 = Monday) is in `weekdays` and that are not holidays.

    `weekdays` is never empty, so stepping always ends: at most a week plus
    the holidays away.
    """

    name: str
    weekdays: frozenset[int]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError(f"calendar {self.name!r}: weekdays must be a non-empty subset of 0..6")

    def contains(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def shift(self, day: date, count: int) -> date:
        """The `count`-th calendar date after `day` (before it when negative); `day` itself for 0."""
        if count == 0:
            return day  # schedules ask for it on every date: their shift is mostly 0
        step = ONE_DAY if count > 0 else -ONE_DAY
        for _ in range(abs(count)):
            day += step
            while not self.contains(day):
                day += step
        return day

    def after(self, day: date) -> date:
        """The next calendar date strictly after `day`."""
        return self.shift(day, 1)

    def before(self, day: date) -> date:
        """The last calendar date strictly before `day`."""
        return self.shift(day, -1)


ALL = Calendar("all", frozenset(range(7)))
