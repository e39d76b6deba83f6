"""What another caller wrote (an ad hoc run's name, args, reasons, apsisd's error messages) reaches an operator's
terminal with its control characters escaped: no ESC sequence, carriage return, C1 or bidi override is printed
raw, and no newline inside a field makes a row of its own."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from apsisd.cli.render import Style, json_text, readable, table
from apsisd.cli.run_view import RUN_HEADERS, details, row
from apsisd.cli.session import warn
from apsisd.text import escaped

HOSTILE = "\x1b[2J\x1b]0;pwned\x07\r\nr1  success\x9b31m\u202edcba\u2028\u2066"
RAW = ("\x1b", "\r", "\n", "\x07", "\x9b", "\u202e", "\u2028", "\u2066")
RUN = {"run_id": "r7", "job_id": HOSTILE, "args": {HOSTILE: HOSTILE}, "state": "error", "reason": HOSTILE,
       "origin": "adhoc", "times": {"schedule": "2026-12-06T10:00:00+00:00", "error": "2026-12-06T10:00:01+00:00"}}


def test_escaped_writes_each_control_character_as_an_escape() -> None:
    assert escaped(HOSTILE) == r"\x1b[2J\x1b]0;pwned\x07\r\nr1  success\x9b31m\u202edcba\u2028\u2066"
    assert escaped("tab\tand é, 😀, ü") == "tab\tand é, 😀, ü"  # printable text (and tabs) as it is


def test_a_runs_row_and_details_print_no_control_character() -> None:
    shown = readable(RUN)
    now = datetime(2026, 12, 6, 10, 1, tzinfo=UTC)
    lines = [*table(RUN_HEADERS, [row(shown, UTC, now)], Style(colour=True)), *details(shown, UTC, now)]
    printed = "\n".join(lines)
    assert len(printed.splitlines()) == len(lines)  # one line each
    assert not [char for char in RAW if char in printed.replace("\n", "").replace("\x1b[", "")]
    assert "\x1b[2J" not in printed and r"\x1b[2J" in printed


def test_json_output_is_the_same_json_with_no_raw_control_character() -> None:
    text = json_text(RUN, indent=2)
    assert json.loads(text) == RUN
    assert not [char for char in RAW if char in text.replace("\n", "")]


def test_a_warning_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    warn(f"no job {HOSTILE} in the jobs folder")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not [char for char in RAW if char in err.rstrip("\n")]
