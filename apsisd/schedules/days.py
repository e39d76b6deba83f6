"""Date-by-date schedules (daily, daily-interval): shifting calendar dates, and merging their instants in order.

These schedules compute instants one calendar date at a time. With
`cal_shift`/`date_shift`, and with DST (two daytimes in one gap land on the
same instant; a fold can put one date's run after the next one's), a date's
instants may come before, or on top of, another date's. merge() puts them
back into one strictly increasing stream, each instant once, looking ahead
no further than it must.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from apsisd.calendars.calendar import Calendar
from apsisd.errors import invalid
from apsisd.fields import integer
from apsisd.schedules.dst import DstPolicy, resolve_on

Item = TypeVar("Item", bound=tuple[Any, ...])  # a run: its instant first
MAX_SHIFT = 366
ONE_DAY = timedelta(days=1)
EARLIEST = DstPolicy()  # gap shift, fold first: the earliest instant a wall time can stand for


def day_count(value: Any) -> int:
    """A `date_shift` or `cal_shift`: a whole number of days, within a year either way."""
    count = integer(value)
    if abs(count) > MAX_SHIFT:
        raise invalid(f"must be between -{MAX_SHIFT} and {MAX_SHIFT} days, not {count}")
    return count


@dataclass(frozen=True, slots=True, kw_only=True)
class DayShift:
    """Where a calendar date's run falls: `cal_shift` calendar dates on, then `date_shift` physical days."""

    cal_shift: int = 0
    date_shift: int = 0

    def apply(self, calendar: Calendar, day: date) -> date:
        """The run date of calendar date `day`."""
        if not self.cal_shift and not self.date_shift:
            return day  # most schedules, on every date
        return calendar.shift(day, self.cal_shift) + timedelta(days=self.date_shift)

    def first(self, calendar: Calendar, run_day: date) -> date:
        """The first calendar date whose run date is on or after `run_day`.

        Shifting by calendar dates maps calendar dates one to one and in
        order, so this is the inverse shift of the first calendar date on or
        after the unshifted `run_day`.
        """
        day = run_day - timedelta(days=self.date_shift)
        if not calendar.contains(day):
            day = calendar.after(day)
        return calendar.shift(day, -self.cal_shift)


NO_SHIFT = DayShift()


def earliest(day: date, daytime: time, zone: ZoneInfo) -> datetime:
    """The earliest instant the wall time stands for; it never decreases as the wall time grows."""
    return resolve_on(day, daytime, zone, EARLIEST)[0]


Batch = tuple[datetime, Iterator[Item]]


def merge(batches: Iterator[Batch[Item]], start: datetime) -> Iterator[Item]:
    """One strictly increasing stream, from `start` on, of the items of `batches`, tuples led by their instant.

    Each batch is (floor, items): items in non-decreasing order, and no
    item of this batch or any later one before `floor`. When several items
    share an instant, the one from the earliest batch (then the first in its
    batch) is kept. The caller makes sure batches are not all empty forever.
    Items are passed on as they are: a schedule's items are its runs' `at`.
    """
    heap: list[tuple[datetime, int, int, Item, Iterator[Item]]] = []
    order = itertools.count()
    numbered = enumerate(batches)
    pending = next(numbered, None)
    last: datetime | None = None
    while True:
        while pending is not None and (not heap or pending[1][0] <= heap[0][0]):
            number, (_, items) = pending
            _push(heap, number, items, order)
            pending = next(numbered, None)
        if not heap:
            return
        instant, number, _, item, items = heapq.heappop(heap)
        limit = pending[1][0] if pending is not None else None
        while True:  # along this stream, without the heap, while it holds the smallest instants
            if instant >= start and (last is None or instant > last):
                last = instant
                yield item
            following = next(items, None)
            if following is None:
                break
            item, instant = following, following[0]
            if (heap and instant >= heap[0][0]) or (limit is not None and instant >= limit):
                heapq.heappush(heap, (instant, number, next(order), item, items))
                break


def _push(heap: list[Any], number: int, items: Iterator[Item], order: Iterator[int]) -> None:
    item = next(items, None)
    if item is not None:
        heapq.heappush(heap, (item[0], number, next(order), item, items))
