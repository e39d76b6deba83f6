"""load_calendars(): both file formats, folders walked, and every problem reported at once as FILE:LINE."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from apsisd.calendars.calendar import Calendar
from apsisd.calendars.load import is_calendar_file, load_calendars
from apsisd.errors import FileProblem, InvalidFiles


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(folders: list[Path]) -> list[str]:
    with pytest.raises(InvalidFiles) as caught:
        load_calendars(folders)
    return [str(problem) for problem in caught.value.problems]


def test_text_calendar(tmp_path: Path) -> None:
    write(tmp_path, "us.calendar", "# US market holidays\n\n2026-07-03  # observed\n2026-12-25\n   \n2026-12-25\n")
    assert load_calendars([tmp_path]) == {
        "us": Calendar("us", frozenset(range(5)), frozenset({date(2026, 7, 3), date(2026, 12, 25)}))}


def test_yaml_calendar(tmp_path: Path) -> None:
    write(tmp_path, "gulf.calendar.yaml", "description: Sunday to Thursday\nweekdays: Sun-Thu\n"
                                          "holidays: [2026-03-20, '2026-05-27']\n")
    write(tmp_path, "plain.calendar.yaml", "holidays:\n  - 2026-01-01\n")
    write(tmp_path, "empty.calendar.yaml", "description: no holidays at all\n")
    assert load_calendars([tmp_path]) == {
        "gulf": Calendar("gulf", frozenset({6, 0, 1, 2, 3}), frozenset({date(2026, 3, 20), date(2026, 5, 27)})),
        "plain": Calendar("plain", frozenset(range(5)), frozenset({date(2026, 1, 1)})),
        "empty": Calendar("empty", frozenset(range(5))),
    }


def test_folders_walked_recursively_skipping_dot_files_and_other_files(tmp_path: Path) -> None:
    jobs, calendars = tmp_path / "jobs", tmp_path / "calendars"
    write(jobs, "team/a/uk.calendar", "2026-12-25\n")
    write(jobs, "job.yaml", "program: x\n")
    write(jobs, ".hidden.calendar", "nonsense\n")
    write(jobs, ".git/x.calendar", "nonsense\n")
    write(jobs, "notes.calendar.txt", "nonsense\n")
    write(calendars, "us.calendar.yaml", "holidays: [2026-07-03]\n")
    (jobs / "dir.calendar").mkdir()
    assert sorted(load_calendars([jobs, calendars, tmp_path / "missing"])) == ["uk", "us"]


def test_empty_folders(tmp_path: Path) -> None:
    assert load_calendars([]) == {}
    assert load_calendars([tmp_path]) == {}


@pytest.mark.parametrize(("name", "is_calendar"), [
    ("us.calendar", True), ("us.calendar.yaml", True), ("us.yaml", False), ("us.calendar.yml", False),
    ("calendar", False), ("us.calendars", False),
])
def test_is_calendar_file(name: str, is_calendar: bool) -> None:
    assert is_calendar_file(Path("jobs") / name) is is_calendar


def test_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    a = write(tmp_path, "a.calendar", "2026-01-01\n2026-13-01\n\n# fine\n26-1-1\n2026-02-30 # no such day\n")
    b = write(tmp_path, "b.calendar.yaml", "description: [1]\n"
                                           "weekdays: Funday\n"
                                           "holidays:\n"
                                           "  - 2026-01-01\n"
                                           "  - 2026-02-30\n"
                                           "  - yesterday\n"
                                           "  - 2026-01-01 10:00:00\n"
                                           "colour: red\n")
    c = write(tmp_path, "c.calendar.yaml", "holidays: [2026-01-01\n")
    d = write(tmp_path, "d.calendar.yaml", "- 2026-01-01\n")
    e = write(tmp_path, "e.calendar.yaml", "")
    f = write(tmp_path, "f.calendar.yaml", "\nholidays: 2026-01-01\n")
    g = write(tmp_path, "g.calendar.yaml", "holidays: {x: 1}\n")
    assert problems([tmp_path]) == [
        f"{a}:2: '2026-13-01' is not a date: month must be in 1..12",
        f"{a}:5: must be a date written YYYY-MM-DD, such as 2026-12-25, not a string '26-1-1'",
        f"{a}:6: '2026-02-30' is not a date: day is out of range for month",
        f"{b}:5: holidays[1]: '2026-02-30' is not a date: day is out of range for month",
        f"{b}:6: holidays[2]: must be a date written YYYY-MM-DD, such as 2026-12-25, not a string 'yesterday'",
        f"{b}:7: holidays[3]: must be a date written YYYY-MM-DD, such as 2026-12-25, not a string "
        "'2026-01-01 10:00:00'",
        f"{b}:2: weekdays: 'Funday' is not a set of weekdays; use all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon",
        f"{b}:1: description: must be a string, not a list",
        f"{b}:8: colour: unknown key; allowed here: description, holidays, weekdays",
        f"{c}:2: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence)",
        f"{d}:1: a calendar file must be a mapping of keys to values, not a list",
        f"{e}:1: a calendar file must be a mapping of keys to values, not nothing (null)",
        f"{g}:1: holidays: must be a date written YYYY-MM-DD, such as 2026-12-25, not a mapping",
    ]
    assert f not in [problem.split(":")[0] for problem in problems([tmp_path])]


def test_problem_records(tmp_path: Path) -> None:
    path = write(tmp_path, "x.calendar.yaml", "holidays:\n  - nope\n")
    with pytest.raises(InvalidFiles) as caught:
        load_calendars([tmp_path])
    assert caught.value.problems == [FileProblem(str(path), 2, "holidays[0]", "must be a date written YYYY-MM-DD, "
                                                                             "such as 2026-12-25, not a string 'nope'")]


def test_same_name_twice(tmp_path: Path) -> None:
    first = write(tmp_path / "one", "us.calendar", "2026-07-03\n")
    second = write(tmp_path / "two", "us.calendar.yaml", "holidays: [2026-07-03]\n")
    third = write(tmp_path / "one", "sub/us.calendar", "2026-07-03\n")
    assert problems([tmp_path / "one", tmp_path / "two"]) == [
        f"{first}:1: a calendar named 'us' is also defined in {third}; calendar names must be unique",
        f"{second}:1: a calendar named 'us' is also defined in {third}; calendar names must be unique",
    ]


@pytest.mark.parametrize("name", ["all", "ALL", "Mon-Fri", "tue,thu", "Sat-Mon", "Sunday"])
def test_built_in_names_cannot_be_shadowed(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, f"{name}.calendar", "2026-01-01\n")
    assert problems([tmp_path]) == [
        f"{path}:1: the name {name!r} is a built-in calendar (all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon); "
        "rename the file"]


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.calendar"
    path.write_bytes(b"\xff\xfe2026-01-01\n")
    [problem] = problems([tmp_path])
    assert problem == f"{path}:1: not UTF-8 text; save the file as UTF-8"
