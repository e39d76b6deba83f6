"""Reading one mapping of a job file, collecting every problem instead of stopping at the first.

Job files are checked whole (an operator wants every error at once), so a
reader records what is wrong with a field and carries on; done() then raises
all of it, unknown keys included, as one InvalidFields.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from apsisd.errors import InvalidFields, invalid

T = TypeVar("T")
REQUIRED: Any = object()
# The longest text read as a value with a syntax of its own (a duration, a size, a time of day, a zone, a
# weekday set, a name): far above any real one, and small enough that reading it, and quoting it in a problem,
# costs nothing whatever a file or an API caller sends.
MAX_TEXT = 256
# The longest schedule expression (cron, OnCalendar): a list of every minute of the hour fits six times over.
MAX_EXPRESSION = 1024


class Fields:
    """The keys of one mapping, read with parsers that raise InvalidFields."""

    def __init__(self, data: object, what: str = "this") -> None:
        self.problems: list[tuple[tuple[str | int, ...], str]] = []
        self._seen: set[str] = set()
        if type(data) is dict or isinstance(data, Mapping):  # dict first: YAML gives dicts, and an ABC check is slow
            self._data: Mapping[Any, Any] = data
        else:
            self._data = {}
            self.problems.append(((), f"{what} must be a mapping of keys to values, not {describe(data)}"))

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def take(self, key: str, parse: Callable[[Any], T], default: Any = REQUIRED) -> T:
        """parse(value of key); the default when absent; a missing required key is a problem.

        On a problem the default (None when required) is returned, so the
        caller can go on reading and report everything.
        """
        self._seen.add(key)
        if key not in self._data:
            if default is REQUIRED:
                self.problems.append(((key,), "is required"))
                return None  # type: ignore[return-value]
            return default  # type: ignore[no-any-return]
        try:
            return parse(self._data[key])
        except InvalidFields as exc:
            self.problems.extend(exc.under(key).problems)
            return None if default is REQUIRED else default  # type: ignore[no-any-return, return-value]

    def raw(self, key: str, default: Any = None) -> Any:
        """The value as written, marked as read."""
        self._seen.add(key)
        return self._data.get(key, default)

    def done(self) -> None:
        """Raise everything found so far, unknown keys included."""
        if not self.problems and self._data.keys() <= self._seen:
            return  # the common case, checked in C: a large folder reads many mappings
        unknown = [key for key in self._data if key not in self._seen]
        if unknown:
            allowed = ", ".join(sorted(self._seen)) or "none"
            self.problems.extend(((str(key),), f"unknown key; allowed here: {allowed}") for key in unknown)
        if self.problems:
            raise InvalidFields(self.problems)


def remembered(parse: Callable[[Any], T], size: int = 1024) -> Callable[[Any], T]:
    """`parse`, keeping the results for the last values it read, by their repr (which tells 1, 1.0, true and
    '1' apart, as parsers do).

    For sub-values a jobs folder repeats thousands of times (a program's limits, a job's params). Results are
    shared, so `parse` must return immutable values. Problems are not kept: they are rare.
    """
    results: dict[str, T] = {}

    def parse_remembered(value: Any) -> T:
        key = repr(value)
        found = results.get(key, REQUIRED)
        if found is not REQUIRED:
            return found
        parsed = parse(value)
        if len(results) >= size:
            results.clear()
        results[key] = parsed
        return parsed

    return parse_remembered


def each(parse: Callable[[Any], T]) -> Callable[[Any], list[T]]:
    """A parser for a list (or one bare item) whose items parse with `parse`; problems carry the index."""

    def parse_list(value: Any) -> list[T]:
        items = value if isinstance(value, list) else [value]
        parsed: list[T] = []
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, item in enumerate(items):
            try:
                parsed.append(parse(item))
            except InvalidFields as exc:
                problems.extend(exc.under(index).problems if isinstance(value, list) else exc.problems)
        if problems:
            raise InvalidFields(problems)
        return parsed

    return parse_list


def string(value: Any) -> str:
    """A string as written; numbers are accepted as their text, as args always are strings."""
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise invalid(f"must be a string, not {describe(value)}")
    return str(value)


def bounded(text: str, what: str, limit: int | None = None) -> str:
    """`text`, if it has at most `limit` (MAX_TEXT) characters; else a problem that says so without quoting it.

    Checked before a value is parsed, so no syntax is ever read from more than `limit` characters.
    """
    limit = MAX_TEXT if limit is None else limit
    if len(text) > limit:
        raise invalid(f"is {len(text)} characters long; {what} has at most {limit}")
    return text


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"must be true or false, not {describe(value)}")
    return value


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"must be a whole number, not {describe(value)}")
    return value


def string_map(value: Any) -> dict[str, str]:
    """A mapping of names to strings (args, env); values are turned into their text."""
    if not isinstance(value, Mapping):
        raise invalid(f"must be a mapping of names to strings, not {describe(value)}")
    result: dict[str, str] = {}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for key, item in value.items():
        try:
            result[str(key)] = string(item)
        except InvalidFields as exc:
            problems.extend(exc.under(str(key)).problems)
    if problems:
        raise InvalidFields(problems)
    return result


def describe(value: object) -> str:
    """How a wrong value is named in a message: its YAML kind and, when short, itself."""
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
             dict: "a mapping", type(None): "nothing (null)"}
    kind = next((name for cls, name in kinds.items() if type(value) is cls), type(value).__name__)
    # Not the repr of a collection (a deeply nested one's recurses too far), nor of a long text or number (it
    # would flood the message; an int of 5,000 digits has none).
    if value is None or isinstance(value, list | dict) or (isinstance(value, str) and len(value) > 40) or (
            isinstance(value, int) and value.bit_length() > 128):
        return kind
    text = repr(value)
    return f"{kind} {text}" if len(text) <= 40 else kind
