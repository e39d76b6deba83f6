"""dst.resolve_on(): the steady-day shortcut gives what resolve() gives, on every date around every change."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from tz_transitions import transitions

from apsisd.schedules.dst import DstPolicy, Fold, Gap, resolve, resolve_on, since_midnight, steady_day

ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia",
         "America/St_Johns", "Antarctica/Troll", "Europe/Dublin", "Africa/Casablanca"]
DAYTIMES = [time(0, 0), time(0, 30), time(1, 0), time(1, 59, 59), time(2, 0), time(2, 30), time(3, 0),
            time(12, 0), time(23, 0), time(23, 30), time(23, 59, 59, 999999)]
POLICIES = [DstPolicy(gap, fold) for gap in Gap for fold in Fold]


@pytest.mark.parametrize("zone", ZONES)
def test_resolve_on_equals_resolve_on_the_dates_around_each_change(zone: str) -> None:
    tz = ZoneInfo(zone)
    checked = 0
    for change in transitions(zone, 2000, 2030):
        local_day = change.astimezone(tz).date()
        for day in (local_day + timedelta(days=offset) for offset in (-2, -1, 0, 1, 2)):
            for daytime in DAYTIMES:
                for policy in POLICIES:
                    expected = resolve(datetime.combine(day, daytime), tz, policy)
                    assert resolve_on(day, daytime, tz, policy) == expected, (day, daytime, policy)
                    checked += 1
    assert checked > 0 or zone in ("UTC", "Asia/Kolkata")


def test_steady_day_is_none_exactly_on_the_dates_of_a_change() -> None:
    tz = ZoneInfo("Europe/London")
    change = transitions("Europe/London", 2026, 2026)[0]  # 2026-03-29 01:00 UTC
    day = change.astimezone(tz).date()
    assert steady_day(tz, day) is None
    before = steady_day(tz, day - timedelta(days=1))
    after = steady_day(tz, day + timedelta(days=1))
    assert before is not None and after is not None
    assert (before.midnight, before.date, before.offset) == (change.replace(hour=0) - timedelta(days=1),
                                                             "2026-03-28", "+00:00")
    assert (after.midnight, after.date, after.offset) == (change.replace(hour=0) + timedelta(hours=23),
                                                          "2026-03-30", "+01:00")


def test_since_midnight_keeps_every_part_of_the_daytime() -> None:
    assert since_midnight(time(23, 59, 59, 999999)) == timedelta(days=1, microseconds=-1)
    assert since_midnight(time(0, 0)) == timedelta(0)
