"""read_json(): any bytes give a value every field can take, or a ValueError saying what is wrong; never another
exception (json.loads alone raises RecursionError, and lets NaN, inf and lone surrogates through)."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apsisd.api.json_body import MAX_DEPTH, read_json


@pytest.mark.parametrize(("raw", "why"), [
    (b"[" * 100_000, "nested more than 32 deep"),  # json.loads: RecursionError
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested more than 32 deep"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested more than 32 deep"),
    (b'{"count": NaN}', "NaN is not a JSON number"),
    (b'{"count": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"timeout": 1e400}', "the number 1e400 is too large"),
    (b'{"count": ' + b"9" * 5000 + b"}", "a number of 5,000 digits is too large"),  # json.loads: its own ValueError
    (b'{"job_id": "\xff"}', "byte 12 is not UTF-8"),
    (b'{"job_id": "\\ud800"}', "half of a UTF-16 pair"),
    (b'{"\\udfff": 1}', "half of a UTF-16 pair"),
    (b'{"job_id": ', "Expecting value (line 1, column 12)"),
    (b"", "Expecting value (line 1, column 1)"),
])
def test_what_is_refused_and_why(raw: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        read_json(raw)


def test_what_is_read() -> None:
    deepest = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert read_json(deepest) == json.loads(deepest)
    assert read_json('{"at": "2026-11-26T09:30:00Z", "count": 2, "x": [1.5, "é😀"]}'.encode()) == {
        "at": "2026-11-26T09:30:00Z", "count": 2, "x": [1.5, "é😀"]}
    assert read_json(b"1" * 1000) == int("1" * 1000)  # past float's range: the field names it too large


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(alphabet='[]{}":,0123456789.eE+-NaInfity\\ud800 ', max_size=200).map(
    str.encode))
def test_any_bytes_are_a_value_or_a_value_error(raw: bytes) -> None:
    try:
        read_json(raw)
    except ValueError:
        pass
