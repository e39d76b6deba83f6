"""How the pages write instants, durations and sizes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from apsisd.web.views import cpu, duration, iso, size, utc


@pytest.mark.parametrize(("seconds", "text"), [
    (None, ""), (0, "0 ms"), (0.85, "850 ms"), (3.24, "3.2 s"), (59.9, "59.9 s"), (60, "1 min 00 s"),
    (245, "4 min 05 s"), (3600, "1 h 00 min"), (7380, "2 h 03 min"), (86_400 * 3 + 4 * 3600 + 59, "3 d 04 h"),
    (-5, "-5.0 s"),
])
def test_durations(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(("count", "text"), [
    (None, ""), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (12 * 1024 ** 2, "12.0 MiB"),
    (5 * 1024 ** 5, "5120.0 TiB"),
])
def test_sizes(count: int | None, text: str) -> None:
    assert size(count) == text


def test_instants_are_written_in_utc() -> None:
    moment = datetime(2026, 12, 7, 2, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    assert utc(moment) == "2026-12-07 01:30:05 UTC"
    assert iso(moment) == "2026-12-07T01:30:05.000000+00:00"
    assert utc(None) == iso(None) == ""
    assert cpu(1_500_000_000) == "1.5 s" and cpu(None) == ""
    assert utc(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01 00:00:00 UTC"
