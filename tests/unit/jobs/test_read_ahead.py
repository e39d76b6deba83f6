"""read_ahead: helper processes read a large folder's files; the result is what reading them here gives."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from apsisd.errors import FileProblem, InvalidFiles
from apsisd.jobs import read_ahead
from apsisd.jobs.load import load_jobs
from apsisd.yaml_source import read_yaml_file

FILES = {
    "plain.yaml": "params: [date]\nschedule: {type: interval, interval: 1h}\nprogram: echo {{ date }}\n",
    "typed.yaml": "program: {type: no-op, duration: 1.5, success: true}\nmetadata: {labels: [a, 7], x: null}\n",
    "empty.yaml": "",
    "bad-yaml.yaml": "program: [echo\n",
    "bad-field.yaml": "program: echo\n\nschedule:\n  type: interval\n  interval: often\n",
    "not-utf8.yaml": "program: caf\xe9\n",
}


def write(folder: Path) -> list[str]:
    for name, text in FILES.items():
        (folder / name).write_bytes(text.encode("latin-1"))
    return [str(folder / name) for name in FILES] + [str(folder / "missing.yaml")]


def here(file: str) -> tuple[Any, list[FileProblem] | None]:
    try:
        return read_yaml_file(file).value, None
    except InvalidFiles as exc:
        return None, exc.problems


def test_helpers_give_each_file_s_value_or_problems_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = write(tmp_path)
    expected = [here(file) for file in files]
    monkeypatch.setattr(read_ahead, "CHUNK", 3)  # several requests, the last one short
    monkeypatch.setattr(read_ahead, "_read", lambda file: pytest.fail("read in this process, not by a helper"))
    assert list(read_ahead.read_files(files, 2)) == expected


class BrokenPool:
    """A pool whose helpers never start: `fail` is what submit() does or what each result raises."""

    def __init__(self, *args: Any, fail: str, **keywords: Any) -> None:
        self.fail = fail

    def submit(self, work: Callable[..., bytes], *args: Any) -> Any:
        if self.fail == "submit":
            raise RuntimeError("cannot schedule new futures after shutdown")
        return self

    def result(self) -> bytes:
        raise OSError("helper died")

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        pass


@pytest.mark.parametrize("fail", ["submit", "result"])
def test_files_a_helper_cannot_read_are_read_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: str) -> None:
    files = write(tmp_path)
    monkeypatch.setattr(read_ahead, "ProcessPoolExecutor", lambda *args, **keywords: BrokenPool(fail=fail))
    assert list(read_ahead.read_files(files, 2)) == [here(file) for file in files]


def loaded(folder: Path) -> tuple[Sequence[Any], list[str]]:
    try:
        job_set = load_jobs(folder)
    except InvalidFiles as exc:
        return [], [str(problem) for problem in exc.problems]
    return list(job_set.jobs.items()), []


def test_a_folder_loads_the_same_with_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path)
    good = tmp_path / "good"
    good.mkdir()
    for index in range(7):
        (good / f"job{index}.yaml").write_text(FILES["plain.yaml"] if index % 2 else FILES["typed.yaml"])
    alone = loaded(tmp_path), loaded(good)
    monkeypatch.setattr(read_ahead, "MIN_FILES", 1)
    monkeypatch.setattr(read_ahead, "helpers", lambda: 2)
    calls: list[int] = []
    reading = read_ahead.read_files
    monkeypatch.setattr(read_ahead, "read_files", lambda files, helpers: calls.append(len(files)) or reading(
        files, helpers))
    assert (loaded(tmp_path), loaded(good)) == alone
    assert calls == [len(FILES) + 7, 7]  # the helpers did read
    problems = alone[0][1]
    assert f"{tmp_path}/bad-field.yaml:5: schedule.interval: 'often' is not a duration; use a number of seconds or " \
           "a duration such as 90s, 15m, 4h, 1d or 1h30m" in problems  # its line: the file read again here
