"""Whatever a job or calendar file holds, loading it gives a job or that file's FILE:LINE problems, quickly.

Before: deep nesting raised RecursionError, a size of 400 digits
OverflowError, and a 429-byte "billion laughs" file took 9 s and 700 MiB,
each a 500 from POST /api/v1/reload and the death of the folder watch.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apsisd.calendars.load import load_calendars
from apsisd.errors import FileProblem, InvalidFiles
from apsisd.jobs.load import MAX_PROBLEMS, load_job, load_jobs
from apsisd.jobs.model import Job
from apsisd.jobs.parse import JobParser
from apsisd.yaml_source import MAX_ALIAS_VALUES, MAX_DEPTH, MAX_FILE, read_yaml

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "etc" / "jobs" / "TEMPLATE.yaml.example"
QUICK = 2.0  # seconds: any one file, however hostile, is read in far less

LAUGHS = "\n".join([  # 342 bytes: 9**9 "lol"s once every alias is followed
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    *(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]" for prev, name in zip("abcdefgh", "bcdefghi", strict=True)),
]) + "\n"
# Every other job key and schedule type, beside those of the template: each numeric field is here somewhere.
EVERY_KEY = {
    "schedule": [
        {"type": "interval", "interval": "1h", "phase": "10m"},
        {"type": "daily-interval", "tz": "UTC", "interval": "15m", "calendar": "Mon-Fri",
         "start": {"daytime": "09:00", "date_shift": 0, "cal_shift": 0}, "stop": "17:00"},
        {"type": "daily", "tz": "UTC", "daytime": "09:00", "date_shift": 1, "cal_shift": 1, "time_shift": "-15s"},
        {"type": "explicit", "times": ["2026-01-01T00:00:00Z"]},
        {"type": "on-calendar", "expr": "*-*-* 09:00", "tz": "UTC"},
        {"start": {"type": "daily", "tz": "UTC", "daytime": "09:00"}, "stop": {"type": "duration", "duration": "1h"}},
    ],
    "program": {"type": "no-op", "duration": 5, "success": True},
    "retry": {"count": 3, "delay": "1m", "backoff": 2, "max_delay": "1h"},
    "scheduling": {"horizon": "1d", "max_scheduled": 10, "max_age": "1h", "catchup": "all"},
    "condition": [{"type": "max_running", "count": 2}],
    "action": [{"type": "webhook", "url": "https://example.com/x", "timeout": 10, "retries": 3, "retry_delay": 1}],
}
# Numbers no field can hold, as YAML text: typed (ints, floats) or text (sizes, durations).
HUGE = ["9" * 400, "-" + "9" * 400, "1e400", "-1e400", "9" * 5000, "0." + "0" * 400 + "1", "9" * 400 + "M",
        "'" + "9" * 400 + "d'", ".nan", "1" * 15_000]


def parser() -> JobParser:
    return JobParser({}, frozenset({"reports/extract", "reports/publish", "reports/archive"}))


def load(folder: Path, name: str, text: str | bytes) -> Job | list[FileProblem]:
    """load_job() of `text` written as NAME.yaml, which must take less than QUICK."""
    path = folder / f"{name}.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    started = time.perf_counter()
    result = load_job(folder, name, parser())
    assert time.perf_counter() - started < QUICK
    return result


def only_problem(result: Job | list[FileProblem]) -> FileProblem:
    assert isinstance(result, list), result
    [problem] = result
    return problem


@pytest.mark.parametrize(("what", "text", "line", "message"), [
    ("flow lists", "program: x\nmetadata: {a: " + "[" * 900 + "]" * 900 + "}\n", 2,
     f"lists and mappings nested more than {MAX_DEPTH} deep"),
    ("a schedule", "program: x\nschedule: " + "[" * 300 + "]" * 300 + "\n", 2,
     f"lists and mappings nested more than {MAX_DEPTH} deep"),
    ("block mappings", "program: x\nmetadata:\n" + "".join(" " * depth + f"k{depth}:\n" for depth in range(1, 200)),
     3 + MAX_DEPTH - 1, f"lists and mappings nested more than {MAX_DEPTH} deep"),
    ("beyond libyaml's own limit", "program: " + "[" * 100_000 + "]" * 100_000 + "\n", 1,
     "invalid YAML: exceeded maximum nesting depth"),
])
def test_deep_nesting_is_a_problem_at_its_line(tmp_path: Path, what: str, text: str, line: int, message: str) -> None:
    problem = only_problem(load(tmp_path, "deep", text))
    assert (problem.file, problem.line) == (str(tmp_path / "deep.yaml"), line)
    assert problem.message.startswith(message)


def test_billion_laughs_is_refused_at_the_alias_that_overspends(tmp_path: Path) -> None:
    problem = only_problem(load(tmp_path, "laughs", LAUGHS + "program: x\n"))
    assert problem.message == (f"YAML aliases here repeat more than {MAX_ALIAS_VALUES} values in this file; "
                               "write the values out, or refer to fewer")
    assert 1 <= problem.line <= 9


def test_merges_count_as_aliases(tmp_path: Path) -> None:
    text = "base: &b {" + ", ".join(f"k{index}: v" for index in range(200)) + "}\nprogram: x\n" + "".join(
        f"m{index}: {{<<: *b}}\n" for index in range(100))
    assert "repeat more than" in only_problem(load(tmp_path, "merges", text)).message


def test_aliases_within_the_budget_still_work(tmp_path: Path) -> None:
    text = "program: &p {type: shell, command: 'echo {{ a }}'}\nparams: [a]\nmetadata: {copy: *p, again: *p}\n"
    job = load(tmp_path, "ok", text)
    assert isinstance(job, Job) and job.metadata.extra["copy"] == {"type": "shell", "command": "echo {{ a }}"}


def test_an_alias_loop_is_a_problem(tmp_path: Path) -> None:
    problem = only_problem(load(tmp_path, "loop", "program: x\nmetadata: &m {self: *m}\n"))
    assert "refers to a value that contains it" in problem.message or "invalid YAML" in problem.message


def test_a_file_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    text = "program: x\nmetadata: {description: '" + "x" * MAX_FILE + "'}\n"
    problem = only_problem(load(tmp_path, "huge", text))
    assert (problem.line, problem.message) == (1, "larger than 1 MiB, the most a job or calendar file may be; "
                                                  "split it, or move what is not the job's out of it")


def test_a_file_just_under_the_cap_is_read(tmp_path: Path) -> None:
    head = "program: x\nmetadata: {description: '"
    text = head + "x" * (MAX_FILE - len(head) - 3) + "'}\n"
    assert len(text) == MAX_FILE
    assert isinstance(load(tmp_path, "big", text), Job)


@pytest.mark.parametrize(("what", "data", "line", "message"), [
    ("binary garbage", bytes(range(256)) * 40, 2, "not UTF-8 text; save the file as UTF-8"),
    ("invalid UTF-8 on line 3", b"program: x\nmetadata:\n  a: caf\xe9\n", 3, "not UTF-8 text; save the file as UTF-8"),
    ("a NUL on line 2", b"program: x\nparams: [a\x00]\n", 2,
     "invalid YAML: character U+0000 is not allowed: control characters are not allowed"),
    ("UTF-8 garbage", "\U0010ffff\u202e{[&*!%@`".encode(), 1, "a job file must be a mapping"),
])
def test_garbage_is_a_problem(tmp_path: Path, what: str, data: bytes, line: int, message: str) -> None:
    problem = only_problem(load(tmp_path, "garbage", data))
    assert problem.line == line and problem.message.startswith(message)


def test_a_pipe_named_like_a_job_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    started = time.perf_counter()
    problem = only_problem(load_job(tmp_path, "pipe", parser()))
    assert time.perf_counter() - started < QUICK
    assert problem.message == "not a regular file; a job or calendar file must be one"


def test_problems_past_the_cap_are_counted_not_listed(tmp_path: Path) -> None:
    text = "program: x\n" + "".join(f"unknown{index}: 1\n" for index in range(20_000))
    result = load(tmp_path, "keys", text)
    assert isinstance(result, list) and len(result) == MAX_PROBLEMS + 1
    assert result[-1].message == f"and {20_000 - MAX_PROBLEMS} more problems in this file"


def test_duplicate_keys_by_the_thousand_are_found_in_linear_time(tmp_path: Path) -> None:
    keys = [f"k{index}" for index in range(10_000)]
    text = "program: x\nmetadata:\n" + "".join(f"  {key}: 1\n" for key in keys * 2)
    result = load(tmp_path, "dups", text)
    assert isinstance(result, list) and "duplicate key 'k0' (first at line 3)" in result[0].message


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def _with(value: Any, path: tuple[Any, ...], leaf: Any) -> Any:
    if not path:
        return leaf
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _with(value[path[0]], path[1:], leaf)
    return copy


def _every_leaf() -> list[tuple[dict[str, Any], tuple[Any, ...]]]:
    template = read_yaml(TEMPLATE.read_text(), str(TEMPLATE)).value
    return [(job, path) for job in (template, EVERY_KEY) for path in _leaves(job)]


def test_huge_numbers_in_every_field_are_problems(tmp_path: Path) -> None:
    """Each value of the template and of EVERY_KEY replaced by each of HUGE: never an exception."""
    cases = _every_leaf()
    assert len(cases) > 80
    refused = 0
    for job, path in cases:
        text = yaml.safe_dump(_with(job, path, "HOSTILE-VALUE"), sort_keys=False, width=10**6)
        for raw in HUGE:
            result = load(tmp_path, "huge", text.replace("HOSTILE-VALUE", raw))
            assert isinstance(result, Job) or all(isinstance(problem, FileProblem) for problem in result)
            assert isinstance(result, Job) or not any("bug in apsis" in problem.message for problem in result), (
                path, raw[:20], result)
            refused += isinstance(result, list)
    assert refused > len(cases) * len(HUGE) // 2


@pytest.mark.parametrize(("name", "text", "message"), [
    ("deep.calendar.yaml", "holidays: " + "[" * 500 + "]" * 500 + "\n", "lists and mappings nested more than"),
    ("laughs.calendar.yaml", LAUGHS, "YAML aliases here repeat more than"),
    ("huge.calendar.yaml", "# " + "x" * MAX_FILE + "\n", "larger than 1 MiB"),
    ("huge.calendar", "# " + "x" * MAX_FILE + "\n", "larger than 1 MiB"),
    ("binary.calendar", "\udcff", "not UTF-8 text"),
    ("weekdays.calendar.yaml", "weekdays: '" + " " * 20_000 + "'\n", "weekdays: is 20000 characters long"),
])
def test_hostile_calendar_files_are_problems(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    started = time.perf_counter()
    with pytest.raises(InvalidFiles) as caught:
        load_calendars([tmp_path])
    assert time.perf_counter() - started < QUICK
    [problem] = caught.value.problems
    assert problem.file == str(tmp_path / name) and message in str(problem)


def test_a_folder_of_hostile_files_loads_to_their_problems(tmp_path: Path) -> None:
    files = {"laughs.yaml": LAUGHS, "deep.yaml": "program: " + "[" * 900 + "]" * 900 + "\n",
             "size.yaml": "program: {type: shell, command: x, limits: {memory: " + "9" * 400 + "}}\n",
             "good.yaml": "program: x\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(InvalidFiles) as caught:
        load_jobs(tmp_path)
    assert sorted({Path(problem.file).name for problem in caught.value.problems}) == [
        "deep.yaml", "laughs.yaml", "size.yaml"]


# The fuzz: YAML-shaped text made of the pieces that broke the loader (aliases, merges, nesting, tags, huge
# numbers, odd characters), around the keys a job has. Fixed budget and seed, so CI takes the same few seconds.
PIECES = st.sampled_from([
    "program", "schedule", "type", "daily", "interval", "cron", "on-calendar", "expr", "daytime", "timeout",
    "limits", "memory", "params", "args", "condition", "action", "retry", "scheduling", "metadata", "{{ a }}",
    "&a", "*a", "<<", "!!binary", "!!python/object", "? ", ": ", "- ", "[", "]", "{", "}", ",", "\n", "  ",
    "'", '"', "#", "|", ">", "9" * 400, "1e400", ".inf", "-", "~", "null", "true", "09:30", "Mon-Fri", "1h30m",
    "\t", "\x00", "\ufeff", "\u2028", "%YAML 1.2\n", "---\n", "...\n",
])


@settings(max_examples=300, deadline=2000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pieces=st.lists(PIECES, max_size=60), tail=st.binary(max_size=40))
def test_fuzz_the_loader_gives_only_jobs_or_problems(tmp_path: Path, pieces: list[str], tail: bytes) -> None:
    data = "".join(pieces).encode("utf-8", "surrogatepass") + tail
    result = load(tmp_path, "fuzz", data)
    assert isinstance(result, Job) or (result and all(isinstance(problem, FileProblem) for problem in result))
    assert isinstance(result, Job) or not any("bug in apsis" in problem.message for problem in result), result


def test_an_error_no_check_foresaw_is_the_files_problem_not_a_crash(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: JobParser, job_id: str, data: Any) -> Job:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(JobParser, "parse", broken)
    problem = only_problem(load(tmp_path, "any", "program: x\n"))
    assert problem.message == ("cannot be read (ZeroDivisionError); this is a bug in apsis: please report it with "
                               "the file")


@pytest.mark.parametrize("command", ["{{ " + "(" * 5000 + "a" + ")" * 5000 + " }}", "{{ " + "a+" * 5000 + "a }}",
                                     "{% if a %}" * 5000])
def test_a_template_too_deep_for_jinja_is_a_problem(tmp_path: Path, command: str) -> None:
    problems = load(tmp_path, "deep", f"params: [a]\nprogram: '{command}'\n")
    assert isinstance(problems, list), problems
    # ({% %} in shell code is also refused for itself: that second problem is not this test's.)
    assert (2, "program", "template nested too deeply to read (brackets, blocks or operators); write it in simpler "
            "parts") in [(p.line, p.field, p.message) for p in problems]


def test_a_name_no_job_id_can_be_is_refused(tmp_path: Path) -> None:
    """An undecodable name loaded as an id SQLite and JSON text cannot hold; a newline would forge log lines."""
    for name in (b"\xff.yaml", b"a\nb.yaml", b"ok \xc3\xa9.yaml"):
        (tmp_path / os.fsdecode(name)).write_text("program: x\n")
    with pytest.raises(InvalidFiles) as caught:
        load_jobs(tmp_path)
    why = "a job id is its file's path, and this one is not UTF-8 or holds a control character; rename the file"
    assert [str(problem) for problem in caught.value.problems] == [
        f"{tmp_path}/\\udcff.yaml:1: {why}", f"{tmp_path}/a\\nb.yaml:1: {why}"]


@settings(max_examples=150, deadline=2000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pieces=st.lists(st.one_of(PIECES, st.sampled_from(["holidays", "weekdays", "description", "2026-12-25",
                                                          "Mon..Fri", "Sat-Mon,", "2026-02-30"])), max_size=60),
       suffix=st.sampled_from([".calendar.yaml", ".calendar"]))
def test_fuzz_calendar_files_give_only_calendars_or_problems(tmp_path: Path, pieces: list[str], suffix: str) -> None:
    for old in tmp_path.iterdir():
        old.unlink()
    (tmp_path / f"fuzz{suffix}").write_bytes("".join(pieces).encode("utf-8", "surrogatepass"))
    try:
        load_calendars([tmp_path])
    except InvalidFiles as exc:
        assert exc.problems and not any("bug in apsis" in str(problem) for problem in exc.problems)
