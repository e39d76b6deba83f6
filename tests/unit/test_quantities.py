"""Durations that would break date arithmetic downstream (sleep nan, a horizon of inf) are refused where read."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apsisd.errors import InvalidFields
from apsisd.quantities import parse_duration, parse_instant


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nan", "inf", "1e400"])
def test_a_duration_must_be_finite(value: object) -> None:
    with pytest.raises(InvalidFields, match="must be a finite duration"):
        parse_duration(value)


@pytest.mark.parametrize(("value", "seconds"), [(0, 0.0), (1.5, 1.5), ("90", 90.0), ("1h30m", 5400.0)])
def test_finite_durations_are_read(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(("value", "seconds"), [("30sec", 30.0), ("2min", 120.0), ("1hour 30min", 5400.0),
                                                ("1day", 86400.0), ("1 h 30 m", 5400.0)])
def test_the_long_unit_names_are_read(value: str, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["1h30", "h", "1.h", "1hx", "-1h", "1H", "", "  "])
def test_what_is_not_a_duration_is_refused(value: str) -> None:
    with pytest.raises(InvalidFields, match="is not a duration"):
        parse_duration(value)


def test_a_number_too_large_for_a_float_is_a_problem_not_an_overflow() -> None:
    with pytest.raises(InvalidFields, match="is far too large a duration"):
        parse_duration(10**400)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00-01:00"])
def test_an_instant_outside_utcs_years_is_refused_not_overflowed(value: str) -> None:
    with pytest.raises(InvalidFields, match="outside the years 1 to 9999 in UTC"):
        parse_instant(value)


def test_the_first_and_last_instants_in_utc_are_read() -> None:
    assert parse_instant("0001-01-01T00:00:00Z") == datetime(1, 1, 1, tzinfo=UTC)
    assert parse_instant("9999-12-31T23:59:59+00:00") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
