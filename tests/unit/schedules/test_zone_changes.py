"""zone_changes: where a zone holds still, and glibc's tzname pair (the abbreviations an expression may end in)."""
from __future__ import annotations

import ctypes
import ctypes.util
import platform
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones

import pytest

from apsisd.schedules.zone_changes import ZoneChanges, tznames

NEW_YORK = ZoneInfo("America/New_York")
SPRING = int(datetime(2024, 3, 10, 7, 0, tzinfo=UTC).timestamp())  # 02:00 EST -> 03:00 EDT
EST, EDT = (-5 * 3600, 0), (-4 * 3600, 1)


@pytest.mark.parametrize(("start", "end", "state", "steady"), [
    (SPRING - 86400, SPRING - 1, EST, True),
    (SPRING - 86400, SPRING, EST, False),  # the change itself is the first instant of EDT
    (SPRING, SPRING + 86400, EDT, True),
    (SPRING, SPRING + 86400, EST, False),  # steady, but not in this state
    (SPRING - 400 * 86400, SPRING - 380 * 86400, EST, True),  # a winter a year before
    (SPRING - 400 * 86400, SPRING - 1, EST, False),  # across the last year's two changes
    (int(datetime(2011, 12, 29, tzinfo=UTC).timestamp()), int(datetime(2012, 1, 2, tzinfo=UTC).timestamp()),
     (-10 * 3600, 1), False),
])
def test_steady(start: int, end: int, state: tuple[int, int], steady: bool) -> None:
    zone = ZoneInfo("Pacific/Apia") if state == (-10 * 3600, 1) else NEW_YORK
    assert ZoneChanges(zone).steady(start, end, *state) is steady


def test_steady_in_a_zone_without_changes() -> None:
    changes = ZoneChanges(ZoneInfo("UTC"))
    assert changes.steady(0, 2**31, 0, 0)
    assert not changes.steady(0, 10, 3600, 0)


@pytest.mark.parametrize(("zone", "names"), [
    ("UTC", ("UTC", "UTC")),
    ("America/New_York", ("EST", "EDT")),
    ("Europe/London", ("GMT", "BST")),
    ("Europe/Berlin", ("CET", "CEST")),
    ("Europe/Dublin", ("IST", "GMT")),  # negative DST: winter is the "daylight" time
    ("Asia/Kolkata", ("IST", "+0630")),  # the last daylight time, 1942-45
    ("Asia/Tokyo", ("JST", "JDT")),
    ("Australia/Lord_Howe", ("+1030", "+11")),
    ("Pacific/Apia", ("+13", "+14")),
    ("America/Sao_Paulo", ("-03", "-02")),
    ("Etc/GMT+5", ("-05", "-05")),
])
def test_tznames(zone: str, names: tuple[str, str]) -> None:
    assert tznames(ZoneInfo(zone)) == names


def glibc() -> ctypes.CDLL | None:
    return ctypes.CDLL(ctypes.util.find_library("c")) if platform.libc_ver()[0] == "glibc" else None


LIBC = glibc()


@pytest.mark.skipif(LIBC is None, reason="the C library here is not glibc: nothing to compare with")
def test_tznames_equal_glibcs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert LIBC is not None
    names = (ctypes.c_char_p * 2).in_dll(LIBC, "tzname")
    zones = sorted(available_timezones())[::10]
    try:
        for zone in zones:
            monkeypatch.setenv("TZ", zone)
            LIBC.tzset()
            assert tznames(ZoneInfo(zone)) == (names[0].decode(), names[1].decode()), zone
    finally:
        monkeypatch.undo()
        LIBC.tzset()
        time.tzset()
