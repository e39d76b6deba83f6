"""Reading holiday calendars from files, every problem of every file reported at once.

A holiday calendar is a file in the jobs folder or the calendars folder:
`NAME.calendar` (one date per line) or `NAME.calendar.yaml` (a mapping);
jobs name it by NAME. As with job files, an operator gets every mistake in
one pass, each as FILE:LINE:, and a folder with any mistake is not used.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from apsisd.calendars.calendar import Calendar
from apsisd.calendars.spec import SPEC_HELP, weekday_set
from apsisd.errors import FileProblem, InvalidFields, InvalidFiles, format_path, invalid
from apsisd.fields import Fields, bounded, describe, each, string
from apsisd.yaml_source import Document, read_text_file, read_yaml_file

TEXT_SUFFIX = ".calendar"
YAML_SUFFIX = ".calendar.yaml"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
BUSINESS_WEEK = frozenset(range(5))
FieldPath = tuple[str | int, ...]

log = logging.getLogger(__name__)


def is_calendar_file(path: str | os.PathLike[str]) -> bool:
    """Whether a file in a jobs folder (its path, or its name) is a holiday calendar (and so not a job)."""
    return os.fspath(path).endswith((TEXT_SUFFIX, YAML_SUFFIX))


def load_calendars(folders: Sequence[Path]) -> dict[str, Calendar]:
    """Every holiday calendar under `folders` (recursively; dot-files and missing folders skipped), by name.

    Raises InvalidFiles with every problem found, in file order.
    """
    calendars: dict[str, Calendar] = {}
    where: dict[str, Path] = {}
    problems: list[FileProblem] = []
    for path in _calendar_files(folders):
        name = path.name.removesuffix(YAML_SUFFIX).removesuffix(TEXT_SUFFIX)
        try:
            calendar = _read(path, name)
        except InvalidFiles as exc:
            problems.extend(exc.problems)
            continue
        if weekday_set(name) is not None:
            problems.append(FileProblem(str(path), 1, "", f"the name {name!r} is a built-in calendar ({SPEC_HELP}); "
                                        "rename the file"))
        elif name in where:
            problems.append(FileProblem(str(path), 1, "", f"a calendar named {name!r} is also defined in "
                                        f"{where[name]}; calendar names must be unique"))
        else:
            calendars[name], where[name] = calendar, path
    if problems:
        raise InvalidFiles(problems)
    return calendars


def _calendar_files(folders: Sequence[Path]) -> Iterator[Path]:
    for folder in folders:
        if not folder.is_dir():
            continue
        # os.walk and strings rather than rglob and Paths: the jobs folder holds many thousands of job files.
        found: list[list[str]] = []
        for root, dirs, names in os.walk(folder):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            found.extend(os.path.relpath(os.path.join(root, name), folder).split(os.sep) for name in names
                         if not name.startswith(".") and is_calendar_file(name))
        for parts in sorted(found):  # the order of sorted Paths: part by part
            path = folder.joinpath(*parts)
            if path.is_file():
                yield path


def _read(path: Path, name: str) -> Calendar:
    """The calendar in `path`; InvalidFiles with its problems, whatever the file holds (as for a job file)."""
    try:
        if path.name.endswith(YAML_SUFFIX):
            return _from_yaml(path, name, read_yaml_file(str(path)))
        return _from_text(path, name, read_text_file(str(path)))
    except InvalidFiles:
        raise
    except Exception as exc:
        log.error("%s: reading it failed", path, exc_info=True, extra={"action": "calendar_file_failed"})
        raise InvalidFiles([FileProblem(str(path), 1, "", f"cannot be read ({type(exc).__name__}); this is a bug "
                                        "in apsis: please report it with the file")]) from None


def _from_text(path: Path, name: str, text: str) -> Calendar:
    """One ISO date per line; `#` starts a comment; business days are Mon-Fri minus these dates."""
    holidays: set[date] = set()
    problems: list[FileProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            holidays.add(holiday(entry))
        except InvalidFields as exc:
            problems.extend(FileProblem(str(path), number, "", message) for _, message in exc.problems)
    if problems:
        raise InvalidFiles(problems)
    return Calendar(name, BUSINESS_WEEK, frozenset(holidays))


def _from_yaml(path: Path, name: str, document: Document) -> Calendar:
    """A mapping: `holidays` (list of dates), `weekdays` (default Mon-Fri), `description`."""
    fields = Fields(document.value, "a calendar file")
    holidays = fields.take("holidays", each(holiday), [])
    weekdays = fields.take("weekdays", _weekdays, BUSINESS_WEEK)
    fields.take("description", string, "")
    try:
        fields.done()
    except InvalidFields as exc:
        raise InvalidFiles([FileProblem(str(path), document.line(field), format_path(field), message)
                            for field, message in exc.problems]) from None
    return Calendar(name, weekdays, frozenset(holidays))


def holiday(value: Any) -> date:
    """A date written YYYY-MM-DD."""
    if isinstance(value, str) and DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise invalid(f"{value.strip()!r} is not a date: {exc}") from None
    raise invalid(f"must be a date written YYYY-MM-DD, such as 2026-12-25, not {describe(value)}")


def _weekdays(value: Any) -> frozenset[int]:
    text = bounded(string(value), "a weekday set")
    weekdays = weekday_set(text)
    if weekdays is None:
        raise invalid(f"{text!r} is not a set of weekdays; use {SPEC_HELP}")
    return weekdays
