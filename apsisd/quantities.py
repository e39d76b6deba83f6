"""The small value syntaxes of job files: durations, sizes, times of day, time zones.

One place for them so every field that takes a duration accepts the same
spellings and names the same ones when it refuses a value.
"""
from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apsisd.errors import invalid
from apsisd.fields import bounded, describe

DURATION_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
# A duration's tokens: a number, a unit, spaces, or any other character (which makes it no duration).
DURATION_TOKEN = re.compile(r"(\d+(?:\.\d+)?)|([a-z]+)|\s+|.", re.ASCII | re.DOTALL)
SIZE_HELP = "use a number of bytes or a size such as 512M or 2G"
DAYTIME_HELP = "write it as HH:MM or HH:MM:SS, e.g. 09:30"
DURATION_HELP = "a number of seconds or a duration such as 90s, 15m, 4h, 1d or 1h30m"
SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?", re.ASCII | re.IGNORECASE)
DAYTIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?", re.ASCII)


def parse_duration(value: Any) -> float:
    """Seconds from 90, 90.5, '90', '90s', '15m', '4h', '1d' or '1h30m'; never negative."""
    if isinstance(value, str):
        return _duration_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise invalid(f"must not be negative, not {value}; use {DURATION_HELP}")
        try:
            seconds = float(value)
        except OverflowError:  # an int of 400 digits
            raise invalid(f"is far too large a duration ({describe(value)}); use {DURATION_HELP}") from None
        if not math.isfinite(seconds):
            raise invalid(f"must be a finite duration, not {value}; use {DURATION_HELP}")
        return seconds
    raise invalid(f"must be {DURATION_HELP}, not {describe(value)}")


@functools.lru_cache(maxsize=1024)
def _duration_text(value: str) -> float:
    """parse_duration() of text; cached, as a jobs folder spells the same few durations thousands of times.

    Read in one pass over its tokens (a number, a unit, spaces): the regular expression this replaces was
    tried again at every digit, and a 15 KB timeout took 8 s.
    """
    text = bounded(value, "a duration").strip()
    try:
        return parse_duration(float(text))
    except ValueError:
        pass
    seconds = 0.0
    number: str | None = None
    for token in DURATION_TOKEN.finditer(text):
        digits, unit = token.group(1), token.group(2)
        if digits is not None and number is None:
            number = digits
        elif unit is not None and number is not None and unit in DURATION_UNITS:
            seconds += float(number) * DURATION_UNITS[unit]
            number = None
        elif not token.group().isspace():
            raise invalid(f"{value!r} is not a duration; use {DURATION_HELP}")
    if number is not None or not text:
        raise invalid(f"{value!r} is not a duration; use {DURATION_HELP}")
    return parse_duration(seconds)


def parse_size(value: Any) -> int:
    """Bytes from 1048576, '512M', '2G', '1.5G' (powers of 1024, as systemd counts)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        return _size_text(value)
    raise invalid(f"{value!r} is not a size; {SIZE_HELP}")


@functools.lru_cache(maxsize=1024)
def _size_text(value: str) -> int:
    """parse_size() of text; cached, as a jobs folder spells the same few sizes thousands of times."""
    match = SIZE.fullmatch(bounded(value, "a size").strip())
    if match is None:
        raise invalid(f"{value!r} is not a size; {SIZE_HELP}")
    size = float(match.group(1)) * SIZE_UNITS[match.group(2).upper()]
    if not math.isfinite(size):  # 400 nines and a unit: no int holds it as bytes, nor does a float
        raise invalid(f"{value!r} is far too large a size; {SIZE_HELP}")
    return int(size)


def parse_daytime(value: Any) -> time:
    """A time of day from 'HH:MM' or 'HH:MM:SS' (job files are read so YAML leaves these as text)."""
    if isinstance(value, str):
        return _daytime_text(value)
    raise invalid(f"{value!r} is not a time of day; {DAYTIME_HELP}")


@functools.lru_cache(maxsize=1024)
def _daytime_text(value: str) -> time:
    """parse_daytime() of text; cached, as a jobs folder writes the same few times of day thousands of times."""
    match = DAYTIME.fullmatch(bounded(value, "a time of day").strip())
    if match is None:
        raise invalid(f"{value!r} is not a time of day; {DAYTIME_HELP}")
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise invalid(f"{value!r} is not a time of day; hours go 00-23, minutes and seconds 00-59")
    micro = int((match.group(4) or "0").ljust(6, "0"))
    return time(hour, minute, second, micro)


def parse_zone(value: Any) -> ZoneInfo:
    """A time zone by its IANA name (Europe/London, UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"must be a time zone name such as Europe/London or UTC, not {describe(value)}")
    try:
        return ZoneInfo(bounded(value, "a time zone name").strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name no file can have
        raise invalid(f"unknown time zone {value!r}; use an IANA name such as Europe/London or UTC") from None


def parse_instant(value: Any) -> datetime:
    """An absolute instant from ISO 8601 text with a UTC offset or Z; a datetime from YAML likewise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(bounded(value, "a time").strip())
        except ValueError:
            raise invalid(f"{value!r} is not an ISO 8601 time, e.g. 2026-01-31T09:30:00+01:00") from None
    else:
        raise invalid(f"must be an ISO 8601 time, not {describe(value)}")
    if moment.tzinfo is None:
        raise invalid(f"{value!r} has no UTC offset; add one (Z, +01:00) so the instant is unambiguous")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC, 9999-12-31T23:00-01:00 in year 10000
        raise invalid(f"{value!r} is outside the years 1 to 9999 in UTC") from None
