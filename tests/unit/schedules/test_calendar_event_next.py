"""next_elapse(): systemd 252's walk, on the clocks it runs on, with the oddities Debian's 252.39 has."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from apsisd.schedules.calendar_event import USEC
from apsisd.schedules.calendar_event_next import MAX_ITERATIONS, next_elapse
from apsisd.schedules.calendar_event_syntax import parse_calendar_event
from apsisd.schedules.glibc_time import FixedClock, ZoneClock


def usec(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * USEC)


def stamp(value: int | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value / USEC, UTC).isoformat()


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("daily", "2024-01-01T00:00:00", "2024-01-02T00:00:00+00:00"),  # strictly after
    ("daily", "2023-12-31T23:59:59.999999", "2024-01-01T00:00:00+00:00"),
    ("*:0/25", "2024-01-01T00:51:00", "2024-01-01T01:00:00+00:00"),  # 75 minutes carry to the next hour's start
    ("*-*-31", "2024-04-01T00:00:00", "2024-05-31T00:00:00+00:00"),
    ("*-1/5-1", "2024-11-02T00:00:00", "2025-01-01T00:00:00+00:00"),  # month 16 carries to the next year
    ("*-*-1/30 12:00", "2024-02-02T00:00:00", "2024-03-01T12:00:00+00:00"),
    ("Fri *-*-13", "2024-01-01T00:00:00", "2024-09-13T00:00:00+00:00"),
    ("*:*:0,0.5/20", "2024-01-01T00:00:40.6", "2024-01-01T00:01:00.500000+00:00"),  # the .5 carried past :00
    ("2199-12-31 23:59:59", "2199-12-31T23:59:59", None),
    ("*-02-30", "2024-01-01T00:00:00", None),
])
def test_walk_in_utc(expr: str, after: str, expected: str | None) -> None:
    event = parse_calendar_event(expr, ZoneInfo("UTC"))
    assert stamp(next_elapse(event, FixedClock(0, 0), usec(after))) == expected


def test_a_candidate_before_the_start_moves_an_hour_on() -> None:
    # Dublin, 27 March 2011: from 00:09:00 GMT the walk's 01:00 falls in the gap, mktime reads it as 00:00 GMT,
    # and the walk finds 00:09 again, before its start; Debian's 252 then tries an hour later, keeping tm_isdst.
    zone = ZoneInfo("Europe/Dublin")
    event = parse_calendar_event("00:09", zone)
    assert stamp(next_elapse(event, ZoneClock(zone), usec("2011-03-27T00:09:00"))) == "2011-03-27T23:09:00+00:00"


def test_gives_up_after_max_iterations() -> None:
    # New York: month 16 normalises to April (EDT), is cut back to January keeping tm_isdst=1, which mktime reads
    # as the 31 December before: the walk goes round until systemd's safety valve.
    zone = ZoneInfo("America/New_York")
    event = parse_calendar_event("*-1/5-13..20/3", zone)
    assert MAX_ITERATIONS == 1000
    assert next_elapse(event, ZoneClock(zone), usec("2024-11-19T05:00:00")) is None
    assert stamp(next_elapse(event, FixedClock(0, 0), usec("2024-11-19T05:00:00"))) == "2025-01-13T00:00:00+00:00"


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("*-*-* 12:00 EST", "2024-03-09T12:00:00", "2024-03-09T17:00:00+00:00"),
    ("*-*-* 12:00 EST", "2024-03-09T17:00:00", None),  # the next noon is EDT: the walk stops
    ("*-*-* 12:00 EDT", "2024-03-09T12:00:00", None),
    ("*-*-* 12:00 EDT", "2024-07-09T12:00:00", "2024-07-09T16:00:00+00:00"),
])
def test_forced_tm_isdst(expr: str, after: str, expected: str | None) -> None:
    zone = ZoneInfo("America/New_York")
    event = parse_calendar_event(expr, zone)
    assert stamp(next_elapse(event, ZoneClock(zone), usec(after))) == expected
