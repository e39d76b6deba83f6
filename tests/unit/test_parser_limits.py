"""Every field parser refuses an over-long value with a clear problem, and reads any value in linear time.

A 15 KB `timeout` froze the event loop for 8 s (the duration's regular
expression was tried again at every digit), and a weekday set of spaces did
likewise. The caps keep any one value small; the linearity tests lift them
and compare the time of 1x and 8x inputs against each other, so they hold
on a loaded machine (a quadratic parser takes 256 times as long for 16 times
the input, a linear one 16 times).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from apsisd import fields
from apsisd.calendars import spec as calendar_spec
from apsisd.calendars.spec import parse_calendar, weekday_set
from apsisd.conditions.registry import parse_condition
from apsisd.errors import InvalidFields
from apsisd.fields import MAX_EXPRESSION, MAX_TEXT
from apsisd.jobs.program import parse_program
from apsisd.quantities import parse_daytime, parse_duration, parse_instant, parse_size, parse_zone
from apsisd.schedules import cron_expr, on_calendar
from apsisd.schedules.base import Context
from apsisd.schedules.cron_expr import parse_expr
from apsisd.schedules.registry import parse_schedule

LONG = MAX_TEXT + 1
# (what, parse, an over-long value, the path of the problem, what the message names)
TOO_LONG: list[tuple[str, Callable[[Any], Any], Any, tuple[str | int, ...], str]] = [
    ("duration", parse_duration, "1" * LONG, (), f"a duration has at most {MAX_TEXT}"),
    ("duration of spaces", parse_duration, "1" + " " * LONG + "s", (), f"a duration has at most {MAX_TEXT}"),
    ("size", parse_size, "9" * LONG + "M", (), f"a size has at most {MAX_TEXT}"),
    ("time of day", parse_daytime, "0" * LONG, (), f"a time of day has at most {MAX_TEXT}"),
    ("time zone", parse_zone, "Europe/" + "x" * LONG, (), f"a time zone name has at most {MAX_TEXT}"),
    ("instant", parse_instant, "2026-01-01T00:00:00" + "0" * LONG, (), f"a time has at most {MAX_TEXT}"),
    ("calendar", lambda value: parse_calendar(value, {}), "Mon" + " " * LONG, (),
     f"a calendar name or weekday set has at most {MAX_TEXT}"),
    ("weekdays of a combined calendar", lambda value: parse_calendar({"weekdays": value, "holidays": "x"}, {}),
     "Mon," * LONG, ("weekdays",), f"a weekday set has at most {MAX_TEXT}"),
    ("cron expression", parse_expr, "1," * MAX_EXPRESSION, (), f"a crontab expression has at most {MAX_EXPRESSION}"),
    ("calendar event", lambda value: parse_schedule({"type": "on-calendar", "expr": value}, Context()),
     "1," * MAX_EXPRESSION, ("expr",), f"a calendar event has at most {MAX_EXPRESSION}"),
    ("max_running count", lambda value: parse_condition({"type": "max_running", "count": value}), "1" * LONG,
     ("count",), f"a count has at most {MAX_TEXT}"),
    ("program user", lambda value: parse_program({"type": "shell", "command": "true", "user": value}), "u" * LONG,
     ("user",), f"a user, group or host name has at most {MAX_TEXT}"),
    ("program timeout (the 15 KB attack)",
     lambda value: parse_program({"type": "shell", "command": "true", "timeout": value}), "1" * 15_000,
     ("timeout",), f"a duration has at most {MAX_TEXT}"),
]


@pytest.mark.parametrize(("parse", "value", "path", "names"), [case[1:] for case in TOO_LONG],
                         ids=[case[0] for case in TOO_LONG])
def test_an_over_long_value_is_refused_with_its_length_and_the_cap(
        parse: Callable[[Any], Any], value: Any, path: tuple[str | int, ...], names: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidFields) as refused:
        parse(value)
    assert time.perf_counter() - started < 1.0
    [(where, message)] = [problem for problem in refused.value.problems if names in problem[1]]
    assert where == path
    assert message.startswith(f"is {len(value if isinstance(value, str) else value['weekdays'])} characters long")
    assert value[:300] not in message  # the value is not echoed back


def test_values_at_the_cap_are_still_read() -> None:
    assert parse_duration("0" * (MAX_TEXT - 2) + "5s") == 5.0
    assert parse_size(" " * (MAX_TEXT - 2) + "1K") == 1024
    assert weekday_set("Mon" + " " * (MAX_TEXT - 3)) == frozenset({0})


# (what, the parser, an input of size n built to make a backtracking parser try again at every character)
HOSTILE: list[tuple[str, Callable[[str], Any], Callable[[int], str]]] = [
    ("duration of digits", parse_duration, lambda n: "1" * n + "x"),
    ("duration of parts", parse_duration, lambda n: "1h" * n + "x"),
    ("duration of spaces", parse_duration, lambda n: "1" + " " * n + "x"),
    ("size", parse_size, lambda n: "1" + " " * n + "x"),
    ("weekday set of spaces", weekday_set.__wrapped__, lambda n: "a" + " " * n + "x"),  # not its cache
    ("weekday set of items", weekday_set.__wrapped__, lambda n: "Mon," * n + "x"),
    ("cron expression", parse_expr, lambda n: "1," * n + "1 * * * x"),
    ("calendar event", lambda text: parse_schedule({"type": "on-calendar", "expr": text}, Context()),
     lambda n: "Mon," * n + "x"),
]


def _seconds(parse: Callable[[str], Any], text: str) -> float:
    """The CPU time of one parse of `text`: unlike the wall clock's, other processes do not add to it."""
    started = time.thread_time()
    try:
        parse(text)
    except InvalidFields:
        pass
    return time.thread_time() - started


@pytest.mark.parametrize(("parse", "make"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_parsing_takes_linear_time(monkeypatch: pytest.MonkeyPatch, parse: Callable[[str], Any],
                                   make: Callable[[int], str]) -> None:
    for module in (fields, calendar_spec):
        monkeypatch.setattr(module, "MAX_TEXT", 10**7)
    for module in (cron_expr, on_calendar):
        monkeypatch.setattr(module, "MAX_EXPRESSION", 10**7)
    small, large = make(1000), make(16000)
    _seconds(parse, make(100))  # warm up (first calls compile, fill caches)
    # Each the least of a few tries, taken in turns: the least is the one the machine's load disturbed least.
    tries = [(_seconds(parse, small), _seconds(parse, large)) for _ in range(5)]
    ratio = min(large for _, large in tries) / max(min(small for small, _ in tries), 1e-6)
    assert ratio < 64, f"16x the input took {ratio:.0f}x the time (linear: 16, quadratic: 256)"
