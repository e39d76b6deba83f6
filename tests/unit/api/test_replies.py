"""decimal(): the whole numbers the API takes in a query or header are ASCII digits, as many as 19; shown(): a
refusal quotes what it refuses, cut short."""
from __future__ import annotations

import pytest

from apsisd.api.replies import decimal, shown


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("42", 42), ("007", 7), ("9" * 19, int("9" * 19))])
def test_ascii_digits_are_a_whole_number(text: str, value: int) -> None:
    assert decimal(text) == value


@pytest.mark.parametrize("text", ["", "²", "٣", "1_000", " 5", "5 ", "+5", "-5", "0x10", "1e3", "9" * 20, "9" * 5000])
def test_anything_else_is_none(text: str) -> None:
    assert decimal(text) is None  # int() takes several of these, and raises for 4,301 digits


def test_a_refused_value_is_quoted_and_cut_short() -> None:
    assert shown("a\nb") == "'a\\nb'"
    assert shown("9" * 5000) == "'" + "9" * 59 + "... (5,000 characters)"
