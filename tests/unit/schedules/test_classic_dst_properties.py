"""Property tests of daily and daily-interval across every UTC-offset change 1970-2037 in 22 zones.

For each change, a daily schedule at a daytime inside the wall-clock range
the change skips or repeats, and at a daytime clear of it, under every DST
policy; and a daily-interval window around the change. Each must go strictly
forward with no duplicate, never hang, equal an oracle built date by date,
give every existing wall time it should, and give the same tail from any
start.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice, pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tz_transitions import transitions

from apsisd.fields import Fields
from apsisd.schedules.base import Context, Due
from apsisd.schedules.daily import DailySchedule
from apsisd.schedules.daily_interval import DailyIntervalSchedule
from apsisd.schedules.dst import DstPolicy, Fold, Gap, exists, resolve

ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia",
         "America/Sao_Paulo", "Europe/Berlin", "Asia/Tehran", "America/Santiago", "Africa/Casablanca",
         "Pacific/Chatham", "America/St_Johns", "Europe/Moscow", "Asia/Gaza", "America/Havana", "Australia/Sydney",
         "Pacific/Auckland", "Asia/Jerusalem", "America/Los_Angeles", "Europe/Dublin", "Antarctica/Troll"]
GAP_POLICIES = [DstPolicy(gap, Fold.FIRST) for gap in Gap]  # fold does not matter where the clocks jump ahead
FOLD_POLICIES = [DstPolicy(Gap.SHIFT, fold) for fold in Fold]  # nor gap where they go back
QUARTER = timedelta(minutes=15)
MAX_DUES = 2000  # far more than any window below holds: reaching it means the schedule ran away


def changes(zone: str) -> list[tuple[datetime, timedelta, timedelta]]:
    """(instant, offset before, offset after) of each change; zones without any get a plain instant a year."""
    tz = ZoneInfo(zone)
    moments = transitions(zone, 1970, 2037) or [datetime(year, 3, 15, tzinfo=UTC) for year in range(1970, 2038, 7)]
    return [(moment, _offset(moment - timedelta(seconds=1), tz), _offset(moment, tz)) for moment in moments]


def _offset(moment: datetime, tz: ZoneInfo) -> timedelta:
    offset = moment.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def affected_walls(moment: datetime, before: timedelta, after: timedelta) -> tuple[datetime, datetime]:
    """The naive wall times [low, high) a change skips or repeats (empty for a plain instant)."""
    naive = moment.replace(tzinfo=None)
    return naive + min(before, after), naive + max(before, after)


def dues_between(dues: Iterable[Due], end: datetime) -> list[Due]:
    found = []
    for due in islice(dues, MAX_DUES):
        if due.time >= end:
            return found
        found.append(due)
    raise AssertionError(f"no run at or after {end} within {MAX_DUES} runs")


def assert_forward(times: list[datetime]) -> None:
    assert all(earlier < later for earlier, later in pairwise(times)), times


def days_around(moment: datetime, tz: ZoneInfo, span: int) -> Iterator[date]:
    middle = moment.astimezone(tz).date()
    return (middle + timedelta(days=offset) for offset in range(-span, span + 1))


def parse_daily(zone: str, daytimes: tuple[time, ...], policy: DstPolicy) -> DailySchedule:
    data = {"tz": zone, "daytime": [daytime.isoformat() for daytime in daytimes],
            "dst": {"gap": policy.gap.value, "fold": policy.fold.value}}
    return DailySchedule.parse(Fields(data), Context())


@pytest.mark.parametrize("zone", ZONES)
def test_daily(zone: str) -> None:
    tz = ZoneInfo(zone)
    for moment, before, after in changes(zone):
        low, high = affected_walls(moment, before, after)
        # The first, middle and last wall times the change affects (all skipped ones land on one instant) ...
        inside = tuple(wall.time().replace(microsecond=0)
                       for wall in (low, low + (high - low) / 2, high - timedelta(seconds=1)))
        start, end = moment - timedelta(days=2), moment + timedelta(days=2)
        # ... under every policy that matters; noon, clear of the change (mostly), under the default one.
        relevant = GAP_POLICIES if after > before else FOLD_POLICIES
        for daytimes, policies in ((inside, relevant), ((time(12),), [DstPolicy()])):
            for policy in policies:
                schedule = parse_daily(zone, daytimes, policy)
                times = [due.time for due in dues_between(schedule.times(start), end)]
                assert_forward(times)
                oracle = sorted({instant for day in days_around(moment, tz, 3) for daytime in daytimes
                                 for instant in resolve(datetime.combine(day, daytime), tz, policy)
                                 if start <= instant < end})
                assert times == oracle, (zone, moment, daytimes, policy)
                # Independently of resolve(): every day whose wall time exists has a run the clock shows it at.
                walls = {instant.astimezone(tz).replace(tzinfo=None) for instant in times}
                for day in days_around(moment, tz, 1):
                    for daytime in daytimes:
                        wall = datetime.combine(day, daytime)
                        if exists(wall, tz) and start <= wall.replace(tzinfo=tz).astimezone(UTC) < end:
                            assert wall in walls, (zone, moment, daytime, policy, wall)
            assert_same_tails(parse_daily(zone, daytimes, DstPolicy()), start, end, moment)


def assert_same_tails(schedule: DailySchedule | DailyIntervalSchedule, start: datetime, end: datetime,
                      change: datetime) -> None:
    """From any instant near the change, the same runs as from `start` (or from an instant just before it)."""
    full = [due.time for due in dues_between(schedule.times(start), end)]
    for moment in full:
        if abs(moment - change) > timedelta(hours=1) and moment != full[0]:
            continue
        for later in (moment - timedelta(minutes=31), moment, moment + timedelta(microseconds=1)):
            expected = [instant for instant in full if instant >= later][:3]
            if later >= start and expected:
                assert [due.time for due in islice(schedule.times(later), len(expected))] == expected


def window(moment: datetime, before: timedelta, after: timedelta) -> tuple[time, dict[str, Any]]:
    """A 4-hour window opening 2 hours (on the quarter) before the wall times the change affects."""
    low, _ = affected_walls(moment, before, after)
    opening = low - timedelta(hours=2)
    opening -= timedelta(minutes=opening.minute % 15, seconds=opening.second, microseconds=opening.microsecond)
    closing = opening + timedelta(hours=4)
    return opening.time(), {"daytime": closing.time().isoformat(), "date_shift": (closing.date() - opening.date()).days}


def parse_window(zone: str, opening: time, closing: dict[str, Any], policy: DstPolicy) -> DailyIntervalSchedule:
    data = {"tz": zone, "start": opening.isoformat(), "stop": closing, "interval": "15m",
            "dst": {"gap": policy.gap.value, "fold": policy.fold.value}}
    return DailyIntervalSchedule.parse(Fields(data), Context())


def window_oracle(moment: datetime, tz: ZoneInfo, opening: time, closing: dict[str, Any],
                  policy: DstPolicy) -> Iterator[tuple[datetime, datetime, datetime, datetime] | None]:
    """Per date: (start wall, stop wall, first instant, end instant) as documented, None for a skipped date."""
    first_fold = Fold.SECOND if policy.fold is Fold.SECOND else Fold.FIRST
    last_fold = Fold.FIRST if policy.fold is Fold.FIRST else Fold.SECOND
    for day in days_around(moment, tz, 3):
        start_wall = datetime.combine(day, opening)
        stop_day = day + timedelta(days=closing["date_shift"])
        stop_wall = datetime.combine(stop_day, time.fromisoformat(closing["daytime"]))
        begin = resolve(start_wall, tz, DstPolicy(policy.gap, first_fold))
        finish = resolve(stop_wall, tz, DstPolicy(policy.gap, last_fold))
        yield (start_wall, stop_wall, begin[0], finish[0]) if begin and finish else None


@pytest.mark.parametrize("zone", ZONES)
def test_daily_interval(zone: str) -> None:
    tz = ZoneInfo(zone)
    for moment, before, after in changes(zone):
        opening, closing = window(moment, before, after)
        start, end = moment - timedelta(days=1, hours=12), moment + timedelta(days=1, hours=12)
        for policy in (DstPolicy(Gap.SHIFT, Fold.BOTH), DstPolicy(Gap.SKIP, Fold.FIRST),
                       DstPolicy(Gap.SHIFT, Fold.SECOND)):
            schedule = parse_window(zone, opening, closing, policy)
            times = [due.time for due in dues_between(schedule.times(start), end)]
            assert_forward(times)
            windows = [bounds for bounds in window_oracle(moment, tz, opening, closing, policy) if bounds]
            oracle = sorted({begin + step * QUARTER for _, _, begin, finish in windows
                             for step in range(int((finish - begin) / QUARTER) + 1)
                             if start <= begin + step * QUARTER < min(finish, end)})
            assert times == oracle, (zone, moment, policy)
            if policy.fold is Fold.BOTH:
                assert_every_wall_time(times, windows, tz, start, end)
        assert_same_tails(parse_window(zone, opening, closing, DstPolicy(Gap.SHIFT, Fold.BOTH)), start, end,
                          moment)


def assert_every_wall_time(times: list[datetime], windows: list[tuple[datetime, datetime, datetime, datetime]],
                           tz: ZoneInfo, start: datetime, end: datetime) -> None:
    """Independently of resolve(): every reading of every quarter-hour wall time in a window is a run."""
    runs = set(times)
    for start_wall, stop_wall, begin, finish in windows:
        wall = start_wall
        while wall < stop_wall:
            for fold in (0, 1):
                reading = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
                shown = reading.astimezone(tz).replace(tzinfo=None)
                if shown == wall and begin <= reading < finish and start <= reading < end:
                    assert reading in runs, (tz, wall, fold)
            wall += QUARTER
