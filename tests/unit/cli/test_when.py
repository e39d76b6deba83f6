"""The TIME of `run --at` and the `runs` filters: now, +/-durations, local or offset ISO times, bare HH:MM."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from apsisd.cli.when import BadTime, parse_time

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 9, 13, 30, tzinfo=UTC)  # 14:30 in Paris


def at(text: str, upcoming: bool = True, now: datetime = NOW) -> datetime:
    return parse_time(text, now=now, zone=PARIS, upcoming=upcoming)


@pytest.mark.parametrize(("text", "expected"), [
    ("now", NOW),
    ("+10m", datetime(2026, 3, 9, 13, 40, tzinfo=UTC)),
    ("+1h30m", datetime(2026, 3, 9, 15, 0, tzinfo=UTC)),
    ("-2d", datetime(2026, 3, 7, 13, 30, tzinfo=UTC)),
    ("+90", datetime(2026, 3, 9, 13, 31, 30, tzinfo=UTC)),
    ("2026-03-10T09:00:00+01:00", datetime(2026, 3, 10, 8, 0, tzinfo=UTC)),
    ("2026-03-10T09:00:00Z", datetime(2026, 3, 10, 9, 0, tzinfo=UTC)),
    ("2026-03-10T09:00", datetime(2026, 3, 10, 8, 0, tzinfo=UTC)),  # local: Paris is +01:00 in March
    ("2026-07-10 09:00", datetime(2026, 7, 10, 7, 0, tzinfo=UTC)),  # and +02:00 in July
    ("2026-03-10", datetime(2026, 3, 9, 23, 0, tzinfo=UTC)),  # midnight, local
])
def test_absolute_and_relative_times(text: str, expected: datetime) -> None:
    assert at(text) == expected
    assert at(f"  {text} ") == expected


def test_a_bare_time_of_day_is_its_next_occurrence_for_at_and_today_for_a_filter() -> None:
    assert at("15:00") == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # later today
    assert at("09:00") == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # past today: tomorrow
    assert at("14:30") == datetime(2026, 3, 10, 13, 30, tzinfo=UTC)  # now exactly: not in the future
    assert at("09:00", upcoming=False) == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert at("23:59:30", upcoming=False) == datetime(2026, 3, 9, 22, 59, 30, tzinfo=UTC)


def test_the_next_occurrence_crosses_a_dst_change_in_the_local_zone() -> None:
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Paris moves to +02:00 on Sunday the 29th
    assert at("09:00", now=saturday) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "message"), [
    ("tomorrow", "'tomorrow' is not a time; use now, +DURATION"),
    ("+soon", "'+soon' is not a time"),
    ("25:00", "'25:00' is not a time of day; hours go 00-23"),
    ("2026-13-01", "'2026-13-01' is not a time"),
    ("", "'' is not a time"),
])
def test_what_is_not_a_time(text: str, message: str) -> None:
    with pytest.raises(BadTime) as caught:
        at(text)
    assert str(caught.value).startswith(message)
