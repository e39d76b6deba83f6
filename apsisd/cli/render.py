"""Human output, as systemctl and journalctl print it: aligned columns, `Label: value` lines, times in a zone
with its abbreviation, durations and sizes in short units, colour only on a terminal.

Colour is decided once per stream (a terminal, and no $NO_COLOR); cells are
padded on their text, then painted, so colour never breaks the alignment.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import IO, Any

import click
import yaml

from apsisd.text import PAST_C0, escaped

LABEL_WIDTH = 15
NONE = "-"
_STEPS = (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1))  # unit, its seconds, the next


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: its text and, on a terminal, its colour (a click.style colour name)."""

    text: str
    colour: str | None = None
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Style:
    """Whether to paint: only on a terminal, and never when $NO_COLOR is set (no-color.org)."""

    colour: bool

    @classmethod
    def of(cls, stream: IO[Any] | None = None, environ: Mapping[str, str] | None = None) -> Style:
        stream = sys.stdout if stream is None else stream
        environ = os.environ if environ is None else environ
        return cls(colour=stream.isatty() and not environ.get("NO_COLOR"))

    def paint(self, cell: Cell, width: int = 0) -> str:
        text = cell.text.ljust(width)
        if not self.colour or (cell.colour is None and not cell.bold):
            return text
        return click.style(text, fg=cell.colour, bold=cell.bold or None)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str | Cell]], style: Style, *, legend: bool,
                summary: str) -> None:
    """A listing as systemctl prints one: the table, then (with its legend) a blank line and `summary`."""
    for text in table(headers, rows, style, legend=legend):
        click.echo(text)
    if legend:
        click.echo(f"\n{summary}")


def print_answer(body: Any, as_json: bool, lines: Iterable[str]) -> None:
    """What a command prints: apsisd's answer as JSON with --json, else `lines` (not made at all with --json)."""
    if as_json:
        print_json(body)
        return
    for text in lines:
        click.echo(text)


def table(headers: Sequence[str], rows: Iterable[Sequence[str | Cell]], style: Style,
          legend: bool = True) -> Iterator[str]:
    """The rows in columns two spaces apart, under bold headers (left out with `legend` false); the last column
    unpadded."""
    cells = [[cell if isinstance(cell, Cell) else Cell(cell) for cell in row] for row in rows]
    if legend:
        cells.insert(0, [Cell(header, bold=True) for header in headers])
    widths = [max((len(row[column].text) for row in cells), default=0) for column in range(len(headers))]
    for row in cells:
        last = len(row) - 1
        yield "  ".join(style.paint(cell, 0 if column == last else widths[column])
                        for column, cell in enumerate(row)).rstrip()


def line(label: str, text: str) -> str:
    """`      Label: text`, labels right-aligned as `systemctl status` and `systemd-analyze calendar` print them; no
    label: a line more of the one above."""
    return f"{label:>{LABEL_WIDTH}}: {text}" if label else f"{'':{LABEL_WIDTH + 2}}{text}"


def instant(text: str | None) -> datetime | None:
    """An ISO 8601 time from the API (always with its offset), or None."""
    return datetime.fromisoformat(text) if text else None


def when(moment: datetime | str | None, zone: tzinfo) -> str:
    """`Mon 2026-03-09 14:02:11 CET`: the time in `zone`, with the zone's abbreviation; `-` for none."""
    if isinstance(moment, str):
        moment = instant(moment)
    if moment is None:
        return NONE
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z")


def duration(seconds: float | None) -> str:
    """`850ms`, `12.4s`, `3min 4s`, `2h 3min`, `3d 4h`, as systemd shortens them."""
    if seconds is None:
        return NONE
    if seconds < 0:
        return f"-{duration(-seconds)}"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}".removesuffix(".0") + "s"
    whole = round(seconds)
    unit, length, smaller, small = next(step for step in _STEPS if whole >= step[1])
    rest = (whole % length) // small
    return f"{whole // length}{unit}" + (f" {rest}{smaller}" if rest else "")


def size(count: int | None) -> str:
    """Bytes as systemd shows memory: `512B`, `1.5K`, `23.4M`, `2G` (powers of 1024)."""
    if count is None:
        return NONE
    value, unit = float(count), "B"
    for bigger in "KMGT":
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{count}B" if unit == "B" else f"{value:.1f}".removesuffix(".0") + unit


def flow(value: Any) -> str:
    """A value as written in a job file, on one line: `{type: daily, daytime: ['09:00']}`."""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 30,
                          allow_unicode=True).strip().removesuffix("...").strip()


def print_json(value: Any) -> None:
    """What --json prints: the API's answer, indented; json.dumps writes C0 controls as \\u escapes, and the other
    control characters (DEL, C1, bidi overrides, U+2028) are written so too: no terminal sequence is printed raw."""
    click.echo(json_text(value, indent=2))


def json_text(value: Any, indent: int | None = None) -> str:
    """`value` as JSON, non-ASCII as itself but for the control characters (as \\uXXXX: the same JSON)."""
    return PAST_C0.sub(lambda match: f"\\u{ord(match.group()):04x}", json.dumps(value, indent=indent,
                                                                                   ensure_ascii=False))


def readable(value: Any) -> Any:
    """apsisd's answer made fit for a terminal: every string in it (keys too) with its control characters escaped
    (apsisd/text.py). Names, args, reasons and messages come from callers and files: an ESC sequence in an ad hoc
    run's name would otherwise clear the screen of each operator who lists runs, a newline forge a row. Every
    human rendering reads the answer through this; --json prints it as it is."""
    if isinstance(value, str):
        return escaped(value)
    if isinstance(value, list):
        return [readable(each) for each in value]
    if isinstance(value, dict):
        return {readable(key): readable(each) for key, each in value.items()}
    return value


def plural(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def pairs(mapping: Mapping[str, Any]) -> str:
    """A run's args as `k=v k=v`, or `-`."""
    return " ".join(f"{name}={value}" for name, value in mapping.items()) or NONE
