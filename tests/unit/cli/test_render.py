"""Human output: aligned columns (colour never breaks them), times with their zone, short durations and sizes."""
from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from apsisd.cli.render import Cell, Style, duration, flow, line, size, table, when

PLAIN = Style(colour=False)


def test_a_table_aligns_its_columns_on_their_text_and_leaves_the_last_unpadded() -> None:
    rows = [("r1", Cell("success", "green"), "a"), ("r10000", Cell("failure", "red"), "long job name")]
    assert list(table(("RUN", "STATE", "JOB"), rows, PLAIN)) == [
        "RUN     STATE    JOB",
        "r1      success  a",
        "r10000  failure  long job name",
    ]
    assert list(table(("RUN", "STATE", "JOB"), rows, PLAIN, legend=False))[:1] == ["r1      success  a"]
    painted = list(table(("RUN", "STATE", "JOB"), rows, Style(colour=True)))
    assert [click.unstyle(text) for text in painted] == list(table(("RUN", "STATE", "JOB"), rows, PLAIN))
    assert "\x1b[32msuccess\x1b[0m" in painted[1] and "\x1b[1mRUN   \x1b[0m" in painted[0]


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Style.of(Terminal(), {}).colour
    assert not Style.of(Terminal(), {"NO_COLOR": "1"}).colour
    assert Style.of(Terminal(), {"NO_COLOR": ""}).colour  # no-color.org: set and not empty
    assert not Style.of(io.StringIO(), {}).colour


def test_times_show_their_zone() -> None:
    moment = datetime(2026, 3, 9, 13, 2, 11, tzinfo=UTC)
    assert when(moment, ZoneInfo("Europe/Paris")) == "Mon 2026-03-09 14:02:11 CET"
    assert when("2026-07-09T13:02:11.5+00:00", ZoneInfo("Europe/Paris")) == "Thu 2026-07-09 15:02:11 CEST"
    assert when(moment, UTC) == "Mon 2026-03-09 13:02:11 UTC"
    assert when(None, UTC) == "-"


def test_durations_and_sizes_as_systemd_shortens_them() -> None:
    assert [duration(s) for s in (0.0152, 1, 12.44, 59.9, 60, 184, 3600, 7380, 86400 * 3 + 3600 * 4, -5)] == [
        "15ms", "1s", "12.4s", "59.9s", "1min", "3min 4s", "1h", "2h 3min", "3d 4h", "-5s"]
    assert duration(None) == "-"
    assert [size(n) for n in (512, 1536, 24_536_000, 2 << 30, None)] == ["512B", "1.5K", "23.4M", "2G", "-"]


def test_labelled_lines_and_values_as_written() -> None:
    assert line("Run", "r1") == "            Run: r1"
    assert line("", "more") == "                 more"
    assert flow({"type": "daily", "daytime": ["09:00"], "args": {"region": "EU"}}) == (
        "{type: daily, daytime: ['09:00'], args: {region: EU}}")
    assert flow("echo hi") == "echo hi"
