"""Durations that would break date arithmetic downstream (sleep nan, a horizon of inf) are refused where read."""
from __future__ import annotations

import pytest

from apsisd.errors import InvalidFields
from apsisd.quantities import parse_duration


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nan", "inf", "1e400"])
def test_a_duration_must_be_finite(value: object) -> None:
    with pytest.raises(InvalidFields, match="must be a finite duration"):
        parse_duration(value)


@pytest.mark.parametrize(("value", "seconds"), [(0, 0.0), (1.5, 1.5), ("90", 90.0), ("1h30m", 5400.0)])
def test_finite_durations_are_read(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds
