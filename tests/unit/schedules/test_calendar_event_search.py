"""CalendarSearch: its shortcuts (a fixed-offset walk, counting within a steady day) give exactly the exact walk.

Property: around every UTC-offset change 1970-2037 in 22 zones (every one in
the zones the issue names, every fourth elsewhere), the elapses equal those of
systemd's walk replayed over glibc's mktime at every step, go strictly
forward and never repeat.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from tz_transitions import transitions

from apsisd.schedules.calendar_event import USEC
from apsisd.schedules.calendar_event_next import next_elapse
from apsisd.schedules.calendar_event_search import CalendarSearch
from apsisd.schedules.calendar_event_syntax import parse_calendar_event
from apsisd.schedules.glibc_time import ZoneClock

NAMED = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia",
         "America/Sao_Paulo", "Europe/Berlin"]
OTHERS = ["UTC", "Asia/Tehran", "America/Santiago", "Africa/Casablanca", "Pacific/Chatham", "America/St_Johns",
          "Europe/Moscow", "Asia/Gaza", "America/Havana", "Australia/Sydney", "Pacific/Auckland", "Asia/Jerusalem",
          "America/Los_Angeles", "Europe/Dublin", "Antarctica/Troll"]
# (expression, seconds before the change to start, elapses to compare)
AROUND = [("*:0/20", 3 * 3600, 18), ("*-*-* 00..03:15,45", 86400, 12)]
HOUR = 3600


def exact(expr: str, zone: ZoneInfo, usec: int) -> Iterator[int]:
    """systemd's walk over the emulated glibc at every step, nothing else."""
    event, clock = parse_calendar_event(expr, zone), ZoneClock(zone)
    while (usec := next_elapse(event, clock, usec)) is not None:  # type: ignore[assignment]
        yield usec


def fast(expr: str, zone: ZoneInfo, usec: int) -> Iterator[int]:
    return CalendarSearch(parse_calendar_event(expr, zone), zone).elapses(usec)


def changes(zone: str) -> list[datetime]:
    moments = list(transitions(zone, 1970, 2037)) or [datetime(year, 3, 15, tzinfo=UTC) for year in (1990, 2020)]
    return moments if zone in NAMED else moments[::4]


@pytest.mark.parametrize("zone", NAMED + OTHERS)
def test_same_as_the_exact_walk_around_every_change(zone: str) -> None:
    tz = ZoneInfo(zone)
    for moment in changes(zone):
        for expr, before, count in AROUND:
            start = (int(moment.timestamp()) - before) * USEC - 1
            expected = list(islice(exact(expr, tz, start), count))
            got = list(islice(fast(expr, tz, start), count))
            assert got == expected, f"{expr!r} in {zone} from {moment - (moment - moment)} - {before}s"
            assert all(earlier < later for earlier, later in pairwise([start, *got]))


@pytest.mark.parametrize(("expr", "zone", "start"), [
    ("*:*:0,0.5/20", "UTC", "2024-01-01T00:00:00"),  # a fraction carried into the next minute: never counted
    ("*:*:0,0.5/20", "Europe/Berlin", "2024-03-31T00:58:00"),
    ("*:3/23:0..21/7", "Pacific/Apia", "2018-02-23T09:40:00"),  # a minute past 23:59 leaves a remainder
    ("*:*:0/25", "UTC", "2024-01-01T00:58:30"),  # a second past hh:59:59 likewise
    ("0/5:0/25", "UTC", "2024-01-31T18:00:00"),  # an hour past midnight at a month's end
    ("*-*~1..3 *:0/30", "America/New_York", "2024-02-26T00:00:00"),
    ("*:0/15", "America/New_York", "2024-11-02T23:00:00"),
    ("daily EDT", "America/New_York", "2024-03-01T00:00:00"),  # a forced tm_isdst always takes the walk
    ("0/2:00", "America/New_York", "2024-10-30T00:00:00"),  # hour 24 is the next midnight
    ("Mon..Fri 09:30", "Europe/London", "2024-03-20T00:00:00"),  # days the event skips are walked
    ("*-*-28..31 12:00,18:00", "Europe/Berlin", "2024-01-01T00:00:00"),
    ("*:0/20", "Pacific/Apia", "2011-12-28T00:00:00"),
])
def test_tricky_events_same_as_the_exact_walk(expr: str, zone: str, start: str) -> None:
    tz = ZoneInfo(zone)
    usec = int(datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp()) * USEC
    assert list(islice(fast(expr, tz, usec), 200)) == list(islice(exact(expr, tz, usec), 200))


def test_counting_leaves_no_gap_between_days() -> None:
    tz = ZoneInfo("Europe/London")
    start = int(datetime(2024, 6, 1, 23, 0, tzinfo=UTC).timestamp()) * USEC
    got = list(islice(fast("*:0/30", tz, start), 6))
    assert [(later - earlier) // USEC for earlier, later in pairwise(got)] == [1800] * 5


def test_an_answer_at_or_before_the_start_is_skipped_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    search = CalendarSearch(parse_calendar_event("*:*:0,0.5/20", ZoneInfo("UTC")), None)  # never counted
    answers = iter([5 * USEC, 5 * USEC, 600 * USEC])
    monkeypatch.setattr(search, "after", lambda usec: next(answers))
    assert list(islice(search.elapses(10 * USEC), 1)) == [600 * USEC]


def test_never_is_the_end() -> None:
    assert list(fast("2100-02-29", ZoneInfo("Europe/Berlin"), 0)) == []
    assert list(fast("@1700000000", ZoneInfo("UTC"), 0)) == [1700000000 * USEC]


def test_an_answer_before_the_base_is_skipped() -> None:
    # Caracas, 9 December 2007: 03:00 -04:00 became 02:30 -04:30, tm_isdst unchanged. A zone the expression
    # names is computed in a fresh process each time, whose mktime() takes the first reading of a repeated
    # wall time: from inside the repeated half hour systemd answers an instant before its base.
    caracas = ZoneInfo("America/Caracas")
    event = parse_calendar_event("*:0/15 America/Caracas", ZoneInfo("UTC"))
    base = int(datetime(2007, 12, 9, 7, 4, 32, tzinfo=UTC).timestamp()) * USEC
    systemd = next_elapse(event, ZoneClock(caracas), base)
    assert systemd == int(datetime(2007, 12, 9, 6, 45, tzinfo=UTC).timestamp()) * USEC
    assert [datetime.fromtimestamp(usec // USEC, UTC).strftime("%H:%M") for usec in
            islice(CalendarSearch(event, caracas).elapses(base), 3)] == ["07:30", "07:45", "08:00"]
