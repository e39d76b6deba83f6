"""A caller's JSON, read so that whatever the bytes are, the reader either gives a value every field can take or
raises ValueError saying what is wrong.

json.loads alone lets through what breaks apsisd later or crashes it at once: arrays nested 100,000 deep raise
RecursionError; NaN, Infinity and 1e400 (read as inf) are no JSON numbers and poison arithmetic downstream; an
int of more than 4,300 digits raises ValueError worded for Python programmers; a lone surrogate (\\ud800) makes
a str that SQLite and D-Bus cannot encode.
"""
from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32  # arrays and objects within each other: an ad hoc program nests 3 deep
MAX_DIGITS = 1000  # of an int: past float's range (309), so fields still name the ones too large for them


def read_json(raw: bytes) -> Any:
    """The JSON value of `raw` (UTF-8); ValueError whose str() says what is wrong, fit for the caller."""
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise ValueError(f"byte {exc.start} is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_finite, parse_int=_integer)
    except RecursionError:
        raise ValueError(f"arrays and objects are nested more than {MAX_DEPTH} deep") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    _check_within(value)
    return value


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is too large")
    return number


def _integer(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise ValueError(f"a number of {len(text):,} digits is too large (at most {MAX_DIGITS:,})")
    return int(text)


def _check_within(value: Any) -> None:
    """ValueError for nesting deeper than MAX_DEPTH or a string (a key too) that is not Unicode text. Iterative: a
    reader that recursed would fail on the very values it is checking."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, list | dict):
            if depth >= MAX_DEPTH:
                raise ValueError(f"arrays and objects are nested more than {MAX_DEPTH} deep")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                item = item.values()
            pending.extend((each, depth + 1) for each in item)


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise ValueError(f"a string holds {text[exc.start]!r}, half of a UTF-16 pair, which is no character"
                             ) from None
