"""fields.remembered(): a parser's results kept by the repr of the value, problems never kept."""
from __future__ import annotations

from typing import Any

import pytest

from apsisd.errors import InvalidFields, invalid
from apsisd.fields import remembered


def counting(seen: list[Any]) -> Any:
    def parse(value: Any) -> tuple[str, Any]:
        seen.append(value)
        if value == "bad":
            raise invalid("bad value")
        return (type(value).__name__, value)

    return parse


def test_an_equal_value_is_parsed_once_and_gets_the_same_result() -> None:
    seen: list[Any] = []
    parse = remembered(counting(seen))
    first = parse({"memory": "512M", "nice": 5})
    assert parse({"memory": "512M", "nice": 5}) is first
    assert seen == [{"memory": "512M", "nice": 5}]


def test_values_a_parser_tells_apart_are_kept_apart() -> None:
    seen: list[Any] = []
    parse = remembered(counting(seen))
    assert [parse(value) for value in (1, 1.0, True, "1", [1], None)] == [
        ("int", 1), ("float", 1.0), ("bool", True), ("str", "1"), ("list", [1]), ("NoneType", None)]
    assert len(seen) == 6


def test_problems_are_raised_every_time() -> None:
    seen: list[Any] = []
    parse = remembered(counting(seen))
    for _ in range(2):
        with pytest.raises(InvalidFields) as caught:
            parse("bad")
        assert caught.value.problems == [((), "bad value")]
    assert seen == ["bad", "bad"]


def test_it_keeps_at_most_size_results() -> None:
    seen: list[Any] = []
    parse = remembered(counting(seen), size=2)
    for value in ("a", "b", "c", "a"):
        parse(value)
    assert seen == ["a", "b", "c", "a"]  # full at "c": forgotten, so "a" is parsed again
