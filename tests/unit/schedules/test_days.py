"""days.py: calendar-date shifts, their inverse, and the merge that orders date-by-date instants."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice

import pytest

from apsisd.calendars.calendar import ALL, Calendar
from apsisd.errors import InvalidFields
from apsisd.schedules.days import DayShift, day_count, merge

WORKDAYS = Calendar("work", frozenset(range(5)), frozenset({date(2026, 12, 25), date(2026, 12, 28)}))
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# (shift, calendar date, run date); 2026-12-24 is a Thursday, 25 and 28 are holidays.
SHIFTS: list[tuple[DayShift, date, date]] = [
    (DayShift(), date(2026, 12, 24), date(2026, 12, 24)),
    (DayShift(cal_shift=1), date(2026, 12, 24), date(2026, 12, 29)),
    (DayShift(cal_shift=-1), date(2026, 12, 29), date(2026, 12, 24)),
    (DayShift(cal_shift=-2), date(2026, 12, 29), date(2026, 12, 23)),
    (DayShift(date_shift=-1), date(2026, 12, 29), date(2026, 12, 28)),
    (DayShift(cal_shift=1, date_shift=-1), date(2026, 12, 24), date(2026, 12, 28)),
    (DayShift(cal_shift=-1, date_shift=2), date(2026, 12, 29), date(2026, 12, 26)),
]


@pytest.mark.parametrize(("shift", "day", "run_day"), SHIFTS)
def test_shift_and_its_inverse(shift: DayShift, day: date, run_day: date) -> None:
    assert shift.apply(WORKDAYS, day) == run_day
    assert shift.first(WORKDAYS, run_day) == day
    # The first calendar date whose run date is on or after any date in between is the next one.
    assert shift.first(WORKDAYS, run_day + timedelta(days=1)) == WORKDAYS.after(day)


def test_first_from_a_date_between_run_dates() -> None:
    # Run dates of cal_shift 1 around Christmas: 24 -> 29; 23 -> 24. From 25..29 the first is the 24th's.
    for run_day in (date(2026, 12, 25), date(2026, 12, 27), date(2026, 12, 29)):
        assert DayShift(cal_shift=1).first(WORKDAYS, run_day) == date(2026, 12, 24)
    assert DayShift().first(ALL, date(2026, 12, 25)) == date(2026, 12, 25)


@pytest.mark.parametrize(("value", "count"), [(0, 0), (1, 1), (-1, -1), (366, 366), (-366, -366)])
def test_day_count(value: int, count: int) -> None:
    assert day_count(value) == count


@pytest.mark.parametrize(("value", "message"), [
    (367, "must be between -366 and 366 days, not 367"),
    (-400, "must be between -366 and 366 days, not -400"),
    ("1", "must be a whole number, not a string '1'"),
    (1.5, "must be a whole number, not a number 1.5"),
    (True, "must be a whole number, not a boolean True"),
])
def test_day_count_invalid(value: object, message: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        day_count(value)
    assert caught.value.problems == [((), message)]


def batches(*days: tuple[int, list[int]]) -> Iterator[tuple[datetime, Iterator[tuple[datetime, str]]]]:
    for number, (floor, minutes) in enumerate(days):
        yield at(floor), iter([(at(minute), f"{number}:{minute}") for minute in minutes])


def test_merge_orders_overlapping_batches_and_keeps_the_first_of_equal_instants() -> None:
    merged = list(merge(batches((0, [0, 10, 30]), (5, [5, 10, 20]), (20, [20, 25]), (40, [])), at(0)))
    assert merged == [(at(0), "0:0"), (at(5), "1:5"), (at(10), "0:10"), (at(20), "1:20"), (at(25), "2:25"),
                      (at(30), "0:30")]


def test_merge_keeps_duplicates_within_a_batch_once() -> None:
    assert list(merge(batches((0, [0, 0, 5, 5])), at(0))) == [(at(0), "0:0"), (at(5), "0:5")]


def test_merge_from_start() -> None:
    merged = merge(batches((0, [0, 10, 30]), (5, [5, 10, 20])), at(10))
    assert [instant for instant, _ in merged] == [at(10), at(20), at(30)]


def test_merge_looks_ahead_only_as_far_as_the_floors_require() -> None:
    fetched: list[int] = []

    def endless() -> Iterator[tuple[datetime, Iterator[tuple[datetime, int]]]]:
        for day in range(10**9):
            fetched.append(day)
            yield at(day * 100), iter([(at(day * 100 + 50), day)])

    assert list(islice(merge(endless(), at(0)), 3)) == [(at(50), 0), (at(150), 1), (at(250), 2)]
    assert fetched == [0, 1, 2, 3]


def test_merge_of_nothing() -> None:
    assert list(merge(iter([]), at(0))) == []
