"""TimeCounter.time_from(): the next time of day as systemd's walk takes it, END_OF_DAY, or None (walk instead)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from apsisd.schedules.calendar_event import USEC
from apsisd.schedules.calendar_event_count import END_OF_DAY, TimeCounter, time_counter
from apsisd.schedules.calendar_event_syntax import parse_calendar_event


def counter(expr: str) -> TimeCounter:
    return TimeCounter(parse_calendar_event(expr, ZoneInfo("UTC")))


@pytest.mark.parametrize(("expr", "now", "expected"), [
    ("*:0/20", (10, 0, 1), (10, 20, 0)),
    ("*:0/20", (10, 40, 1), (11, 0, 0)),  # minute 60 is the next hour's start
    ("*:0/20", (23, 40, 1), END_OF_DAY),  # and 24:00 the next midnight
    ("*:0/25", (10, 50, 1), (11, 0, 0)),  # minute 75 restarts the next hour at 00
    ("*:0/25", (23, 50, 1), None),  # but at 23:75 the walk stands on 00:15 of the next day
    ("*:3/23:0..21/7", (10, 49, 21 * USEC + 1), (11, 3, 0)),
    ("*:*:0/25", (10, 58, 50 * USEC + 1), (10, 59, 0)),
    ("*:*:0/25", (10, 59, 50 * USEC + 1), None),  # second 75 past hh:59 leaves hh+1:00:15
    ("*:*:0/20", (10, 59, 40 * USEC + 1), (11, 0, 0)),  # second 60 is clean
    ("0/2:00", (22, 0, 1), END_OF_DAY),  # hour 24
    ("0/5:00", (20, 0, 1), None),  # hour 25 leaves 01:00 at a month's end
    ("9..17:30", (8, 0, 0), (9, 30, 0)),
    ("9..17:30", (17, 30, 1), END_OF_DAY),
    ("*:*:0.5..2.7", (3, 4, 1 * USEC), (3, 4, 1500000)),  # fractions without a repetition overflowing: counted
    ("12:00", (11, 59, 60 * USEC), (12, 0, 0)),  # from 11:59:60, i.e. the next minute
])
def test_time_from(expr: str, now: tuple[int, int, int], expected: object) -> None:
    assert counter(expr).time_from(*now) == expected


@pytest.mark.parametrize(("expr", "countable"), [
    ("*:0/15", True), ("*:*:0.5..2.7", True), ("*:*:0/0.5", False), ("*:*:0,0.5/20", False),
    ("daily", True), ("daily EST", True), ("*:*:*", True),
])
def test_countable(expr: str, countable: bool) -> None:
    local = ZoneInfo("America/New_York") if "EST" in expr else ZoneInfo("UTC")
    event = parse_calendar_event(expr, local)
    assert TimeCounter(event).countable is (countable and event.dst < 0)


def test_counters_are_shared() -> None:
    event = parse_calendar_event("*:0/15", ZoneInfo("UTC"))
    assert time_counter(event) is time_counter(parse_calendar_event("*:0/15", ZoneInfo("UTC")))
