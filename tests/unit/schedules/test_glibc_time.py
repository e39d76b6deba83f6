"""glibc_time: FixedClock's arithmetic, and ZoneClock.mktime() call for call the same as the real glibc mktime().

The comparison calls the C library through ctypes, so it runs where glibc is
the C library (as on every host systemd runs on) and is skipped elsewhere.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apsisd.schedules.glibc_time import FixedClock, Tm, ZoneClock, wall_seconds, zone_state


def tm(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0, isdst: int = -1) -> Tm:
    return Tm(year, month - 1, day, hour, minute, sec, isdst)


def fields(value: Tm) -> tuple[int, ...]:
    return value.year, value.mon + 1, value.mday, value.hour, value.min, value.sec, value.isdst, value.wday


@pytest.mark.parametrize(("args", "expected"), [
    ((2024, 0, 1, 0, 0, 0), 1704067200),
    ((2024, 1, 30, 0, 0, 0), 1709251200),  # 30 February is 1 March
    ((2024, 12, 1, 0, 0, 0), 1735689600),  # month 12 (0-based) is January 2025
    ((2024, -1, 1, 0, 0, 0), 1701388800),  # month -1 is December 2023
    ((2024, 0, 0, 0, 0, 0), 1703980800),  # day 0 is the last of the month before
    ((2024, 0, 1, 25, 61, 61), 1704067200 + 25 * 3600 + 61 * 60 + 61),
])
def test_wall_seconds_normalises_like_mktime(args: tuple[int, ...], expected: int) -> None:
    assert wall_seconds(*args) == expected


def test_fixed_clock() -> None:
    clock = FixedClock(3600, 0)
    value = tm(2024, 2, 30, 24, 0, 75)  # 30 Feb 24:00:75 is 2 March 00:01:15
    assert clock.mktime(value) == int(datetime(2024, 3, 1, 23, 1, 15, tzinfo=UTC).timestamp())
    assert fields(value) == (2024, 3, 2, 0, 1, 15, 0, 6)  # a Saturday
    assert fields(clock.localtime(int(datetime(2024, 3, 1, 23, 1, 15, tzinfo=UTC).timestamp()))) == fields(value)
    far = clock.mktime(tm(2024, 6, 1))
    assert clock.spans == [[1709334075, 1709334075], [far, far]]  # instants more than a day apart: two spans


def test_zone_clock_basics() -> None:
    clock = ZoneClock(ZoneInfo("America/New_York"))
    value = tm(2024, 3, 10, 2, 30)  # skipped: glibc reads it on the offset before the gap, 03:30 EDT
    assert clock.mktime(value) == int(datetime(2024, 3, 10, 7, 30, tzinfo=UTC).timestamp())
    assert fields(value) == (2024, 3, 10, 3, 30, 0, 1, 0)
    assert clock.guess == 5 * 3600  # remembers the offset it probed with
    assert zone_state(ZoneInfo("America/New_York"), 1710055800) == (-4 * 3600, 1)
    assert zone_state(ZoneInfo("Europe/Dublin"), 1704067200) == (0, 1)  # Dublin's winter is its "daylight" time


class CTm(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in ("sec", "min", "hour", "mday", "mon", "year", "wday", "yday",
                                                  "isdst")] + [("gmtoff", ctypes.c_long), ("zone", ctypes.c_char_p)]


def glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mktime.restype = ctypes.c_long
    libc.mktime.argtypes = [ctypes.POINTER(CTm)]
    return libc


LIBC = glibc()
ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Apia", "Europe/Dublin",
         "Asia/Kolkata", "America/Sao_Paulo", "Europe/Berlin", "Pacific/Chatham", "Antarctica/Troll"]


def probes(zone: ZoneInfo) -> Iterator[Tm]:
    """Wall times on both sides of, inside and beyond each change in 2011-2012 and 2024, every tm_isdst."""
    for year in (2011, 2012, 2024):
        moment = datetime(year, 1, 1, tzinfo=UTC)
        offset = moment.astimezone(zone).utcoffset()
        while moment.year == year:
            later = moment + timedelta(hours=3)
            if later.astimezone(zone).utcoffset() != offset:
                offset = later.astimezone(zone).utcoffset()
                wall = later.astimezone(zone).replace(tzinfo=None, minute=0, second=0)
                for minutes in range(-150, 151, 15):
                    near = wall + timedelta(minutes=minutes)
                    for isdst in (-1, 0, 1):
                        yield tm(near.year, near.month, near.day, near.hour, near.minute, 30, isdst)
                yield tm(wall.year, wall.month, wall.day + 40, wall.hour + 30, 75, 90)  # far out of range
            moment = later


@pytest.mark.skipif(LIBC is None, reason="the C library here is not glibc: nothing to compare with")
@pytest.mark.parametrize("zone", ZONES)
def test_zone_clock_equals_glibc_mktime(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert LIBC is not None
    monkeypatch.setenv("TZ", zone)
    LIBC.tzset()
    try:
        clock = ZoneClock(ZoneInfo(zone))
        # Both start from the same remembered offset: that of a plain winter noon.
        for value in [tm(2000, 1, 15, 12), *probes(ZoneInfo(zone))]:
            theirs = CTm(value.sec, value.min, value.hour, value.mday, value.mon, value.year - 1900, 0, 0, value.isdst)
            before = fields(value)
            t = LIBC.mktime(ctypes.byref(theirs))
            ours = clock.mktime(value)
            assert (ours, fields(value)) == (t, (theirs.year + 1900, theirs.mon + 1, theirs.mday, theirs.hour,
                                                  theirs.min, theirs.sec, theirs.isdst, theirs.wday)), before
    finally:
        monkeypatch.undo()
        LIBC.tzset()
        time.tzset()
