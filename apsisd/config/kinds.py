"""The kinds of value a setting holds: how the file's value is read and checked, and how a value is written back
as TOML (the defaults and examples of the commented etc/apsisd.toml and of docs/configuration.md).

A reader raises InvalidFields (`invalid(...)`) with a message that says what the value must be and what it is;
the file's name, line and key are added by whoever reads the file.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apsisd.config.listen import listen
from apsisd.config.log_level import LogLevel
from apsisd.config.origin import read_origin
from apsisd.errors import invalid
from apsisd.fields import boolean, describe, each
from apsisd.jobs.scheduling import parse_catchup, positive_duration, run_count

_OTHERS = ("none", "read")  # what anyone else on the API's socket may do


def toml_value(value: Any) -> str:
    """`value` as TOML: strings (paths, StrEnums) quoted, collections as arrays (sets sorted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, tuple | list | frozenset):
        items = sorted(value) if isinstance(value, frozenset) else value
        return f"[{', '.join(toml_value(item) for item in items)}]"
    raise TypeError(f"no TOML form for {value!r}")


def duration_text(seconds: float) -> str:
    """Seconds as the largest whole unit that fits, as an operator writes them: 86400 as "1d", 0.5 as "0.5s"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f'"{int(seconds // size)}{unit}"'
    return f'"{seconds:g}s"'


@dataclass(frozen=True, slots=True)
class Kind:
    """`read(value, folder)`: the file's value, checked (relative paths taken from the file's `folder`);
    `write(value)`: a value as TOML."""

    read: Callable[[Any, Path], Any]
    write: Callable[[Any], str] = toml_value

    def reader(self, folder: Path) -> Callable[[Any], Any]:
        """The reader of a file in `folder`, for Fields.take."""
        return lambda value: self.read(value, folder)


def _plain(parse: Callable[[Any], Any], write: Callable[[Any], str] = toml_value) -> Kind:
    """A kind whose reader needs no folder."""
    return Kind(lambda value, _folder: parse(value), write)


def _path(what: str) -> Callable[[Any, Path], Path]:
    """The path of a `what` ("file", "folder"), taken from the file's folder when relative."""

    def read(value: Any, folder: Path) -> Path:
        if not isinstance(value, str) or not value or "\0" in value:
            raise invalid(f"must be the path of a {what}, as a string, not {describe(value)}")
        return folder / value

    return read


def _log_level(value: Any) -> LogLevel:
    try:
        return LogLevel(value)
    except ValueError:
        raise invalid(f"must be one of {', '.join(LogLevel)}, not {describe(value)}") from None


def _group_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\0" in value or ":" in value:
        raise invalid(f"must be the name of a group, such as apsis, not {describe(value)}")
    return value.strip()


def _user_name(value: Any) -> str:
    """A name, as systemd's User= would not take an all-digits one for a name."""
    if not isinstance(value, str) or not value.strip() or "\0" in value or ":" in value or value.strip().isdigit():
        raise invalid(f"must be a user's name (not a uid), such as batch, not {describe(value)}")
    return value.strip()


def _others(value: Any) -> str:
    if value not in _OTHERS:
        raise invalid(f"must be one of {', '.join(repr(choice) for choice in _OTHERS)}, not {describe(value)}")
    return str(value)


def _cap(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"must be a whole number, 1 or more, not {describe(value)}")
    return value


def _job_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(f"must be a whole number of jobs, 0 or more, not {describe(value)}")
    return value


FOLDER = Kind(_path("folder"))
FILE = Kind(_path("file"))
DURATION = _plain(positive_duration, duration_text)  # seconds above zero: 90, "90s", "15m", "1h30m"
LOG_LEVEL = _plain(_log_level)
RUN_COUNT = _plain(run_count)
CATCHUP = _plain(parse_catchup)
ADDRESSES = Kind(listen)  # one address or a list: a tuple of "unix:/PATH" and "tcp:HOST:PORT"
GROUP = _plain(_group_name)
USERS = _plain(lambda value: frozenset(each(_user_name)(value)))  # one name or a list: a set of names
WHO_ELSE = _plain(_others)
CAP = _plain(_cap)  # a whole number, 1 or more
JOB_COUNT = _plain(_job_count)  # a whole number, 0 or more
BOOLEAN = _plain(boolean)
ORIGIN = _plain(read_origin)  # a web origin: https://HOST[:PORT]
