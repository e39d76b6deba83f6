"""load_jobs(): walking the folder, job ids, calendars, every problem at once, never half-loading; read_jobs(): the
half a start takes, with the jobs it holds; etc/jobs."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from agentd.types import JobId
from apsisd.actions.schedule import ScheduleAction
from apsisd.actions.webhook import Webhook
from apsisd.conditions.max_running import MaxRunning
from apsisd.errors import InvalidFiles
from apsisd.jobs.load import NoJobsFolder, load_jobs, read_jobs
from apsisd.jobs.program import Kind
from apsisd.jobs.retry import Retry
from apsisd.jobs.target import Target
from apsisd.runs.state import State

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "etc" / "jobs"


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def problems(folder: Path) -> list[str]:
    with pytest.raises(InvalidFiles) as caught:
        load_jobs(folder)
    return [str(problem).removeprefix(f"{folder}/") for problem in caught.value.problems]


def test_job_ids_are_relative_paths_without_yaml(tmp_path: Path) -> None:
    write(tmp_path, {
        "a.yaml": "program: echo a\n",
        "etl/load.yaml": "program: echo load\n",
        "etl/deep/er/x y.yaml": "program: echo spaces\n",
        ".hidden.yaml": "not: [valid\n",
        ".git/config.yaml": "not: [valid\n",
        "etl/.swap.yaml": "not: [valid\n",
        "README.md": "# not a job\n",
        "TEMPLATE.yaml.example": "not: [valid\n",
        "notes.txt": "x",
        "holidays.calendar": "2026-12-25\n",
        "sub/exchange.calendar.yaml": "holidays: [2026-01-01]\nweekdays: Mon-Fri\n",
    })
    job_set = load_jobs(tmp_path)
    assert sorted(job_set.jobs) == ["a", "etl/deep/er/x y", "etl/load"]
    assert job_set.jobs["etl/load"].id == "etl/load"  # type: ignore[index]
    assert job_set.jobs["etl/load"].program.command == "echo load"  # type: ignore[index]
    assert sorted(job_set.calendars) == ["exchange", "holidays"]
    assert job_set.calendars["exchange"].holidays == frozenset({date(2026, 1, 1)})


def test_an_empty_folder_has_no_jobs(tmp_path: Path) -> None:
    job_set = load_jobs(tmp_path)
    assert dict(job_set.jobs) == {} and dict(job_set.calendars) == {}


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(NoJobsFolder, match=r"/missing: not a folder of job files$"):
        load_jobs(tmp_path / "missing")
    (tmp_path / "file").write_text("")
    with pytest.raises(NoJobsFolder):
        load_jobs(tmp_path / "file")


def test_every_problem_of_every_file_at_once_sorted_by_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, {
        "b.yaml": "program: {type: shell}\nextra: 1\n",
        "a/z.yaml": "schedule: {type: interval, interval: never}\nprogram: echo\n",
        "a/ok.yaml": "program: echo fine\n",
        "c.yml": "program: echo\n",
        "d.yaml": "program: echo\nprogram: again\n",
        "f.yaml": "",
        "bad.calendar": "2026-12-25\nChristmas\n",
    })
    (tmp_path / "g.yaml").write_bytes(b"# fine\nprogram: echo \xff\n")
    assert problems(tmp_path) == [
        "a/z.yaml:1: schedule.interval: 'never' is not a duration; use a number of seconds or a duration such as "
        "90s, 15m, 4h, 1d or 1h30m",
        "b.yaml:1: program.command: is required",
        "b.yaml:2: extra: unknown key; allowed here: action, condition, host, metadata, params, program, retry, "
        "schedule, scheduling, successors",
        "bad.calendar:2: must be a date written YYYY-MM-DD, such as 2026-12-25, not a string 'Christmas'",
        "c.yml:1: job files end in .yaml; rename it to c.yaml (a .yml file is not read)",
        "d.yaml:2: duplicate key 'program' (first at line 1); a key may appear once in a mapping",
        "f.yaml:1: empty job file; a job needs at least a program:",
        "g.yaml:2: not UTF-8 text; save the file as UTF-8",
    ]


def test_a_folder_with_one_problem_gives_no_jobs(tmp_path: Path) -> None:
    write(tmp_path, {f"job{index}.yaml": "program: echo\n" for index in range(20)})
    load_jobs(tmp_path)
    write(tmp_path, {"job7.yaml": "program: echo\nschedule: {type: interval}\n"})
    with pytest.raises(InvalidFiles) as caught:
        load_jobs(tmp_path)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{tmp_path}/job7.yaml:2: schedule.interval: is required"]


def test_read_jobs_gives_the_jobs_that_load_and_holds_those_of_the_files_with_problems(tmp_path: Path) -> None:
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    write(tmp_path, {"good.yaml": "program: echo\n", "etl/bad.yaml": "program: echo\nschedule: {type: interval}\n",
                     "deep.yaml": deep, "typo.yml": "program: echo\n", "cal.calendar.yaml": "not: [a calendar\n"})
    (tmp_path / "bad\x1bname.yaml").write_text("program: echo\n")
    jobs = read_jobs(tmp_path)
    assert list(jobs.jobs) == ["good"]
    # Only a job file a job id names is held; a .yml file, a name no id can be and a calendar are problems only.
    assert jobs.held == {"etl/bad", "deep"}
    assert sorted({Path(problem.file).name for problem in jobs.problems}) == [
        "bad.yaml", "bad\\x1bname.yaml", "cal.calendar.yaml", "deep.yaml", "typo.yml"]
    assert [problem.file for problem in jobs.problems] == sorted(problem.file for problem in jobs.problems)
    with pytest.raises(InvalidFiles) as caught:  # what a reload reads: all or nothing
        load_jobs(tmp_path)
    assert tuple(caught.value.problems) == jobs.problems
    clean = read_jobs(write(tmp_path / "clean", {"a.yaml": "program: echo\n"}))
    assert list(clean.jobs) == ["a"] and not clean.held and not clean.problems


def test_calendars_are_found_in_the_extra_folders_and_jobs_use_them(tmp_path: Path) -> None:
    jobs = write(tmp_path / "jobs", {
        "report.yaml": "params: [date]\n"
                       "schedule: {type: daily, tz: UTC, daytime: '07:00', calendar: lse}\n"
                       "program: echo {{ prev_business_day(date, 'lse') }}\n",
    })
    calendars = write(tmp_path / "calendars", {"lse.calendar": "2026-12-25\n2026-12-28\n"})
    with pytest.raises(InvalidFiles):
        load_jobs(jobs)
    job_set = load_jobs(jobs, [calendars])
    assert sorted(job_set.calendars) == ["lse"]
    assert len(job_set.jobs["report"].schedules) == 1  # type: ignore[index]


def test_a_job_without_schedules_or_with_null_ones(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": "program: echo\n", "b.yaml": "program: echo\nschedule:\ncondition:\naction: []\n"})
    job_set = load_jobs(tmp_path)
    for job in job_set.jobs.values():
        assert (job.schedules, job.conditions, job.actions) == ((), (), ())


def test_conditions_actions_successors_and_retry_are_parsed_by_their_types(tmp_path: Path) -> None:
    write(tmp_path, {
        "first.yaml": "params: [date]\n"
                      "program: [echo, '{{ date }}']\n"
                      "condition: {type: max_running, count: 2}\n"
                      "action: [{type: webhook, url: 'https://x/{{ run_id }}', if: {states: [failure]}}]\n"
                      "successors: [second, {job_id: third, args: {date: '{{ date }}'}}]\n"
                      "retry: {count: 2, delay: 1m, backoff: 2}\n"
                      "metadata: {description: '*hi*', labels: ops, owner: me, tags: {a: 1}}\n",
        "second.yaml": "program: {type: no-op}\n",
        "third.yaml": "program: {type: no-op, duration: 1m}\n",
    })
    job = load_jobs(tmp_path).jobs["first"]  # type: ignore[index]
    assert job.params == ("date",)
    assert job.program.kind is Kind.EXEC
    assert job.conditions == (MaxRunning(count=2),)
    assert job.actions == (
        Webhook(url="https://x/{{ run_id }}", states=frozenset({State.FAILURE})),
        ScheduleAction(target=Target(job_id="second"), states=frozenset({State.SUCCESS})),
        ScheduleAction(target=Target(job_id="third", args={"date": "{{ date }}"}), states=frozenset({State.SUCCESS})),
    )
    assert job.retry == Retry(count=2, delay=60.0, backoff=2.0)
    assert job.metadata.description == "*hi*"
    assert job.metadata.labels == ("ops",)
    assert dict(job.metadata.extra) == {"owner": "me", "tags": {"a": 1}}


def test_the_example_jobs_load_without_problems() -> None:
    job_set = load_jobs(EXAMPLES)
    assert 8 <= len(job_set.jobs) <= 12
    assert "uk-bank-holidays" in job_set.calendars
    types = {schedule.type_name for job in job_set.jobs.values() for schedule in job.schedules}
    assert {"daily", "interval", "cron", "on-calendar", "daily-interval"} <= types
    assert any("/" in job_id for job_id in job_set.jobs)


def test_a_job_sets_params_by_job_id() -> None:
    job_set = load_jobs(EXAMPLES)
    assert job_set.params_of(JobId("reports/daily-summary")) == ("date", "region")
    assert job_set.params_of(JobId("demo/flaky")) == ()
    assert job_set.params_of(JobId("no/such/job")) is None


def test_the_job_template_loads_once_named_yaml(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "TEMPLATE.yaml.example", tmp_path / "job.yaml")
    write(tmp_path, {f"reports/{name}.yaml": "program: echo\n" for name in ("extract", "publish", "archive")})
    job = load_jobs(tmp_path).jobs["job"]  # type: ignore[index]
    assert job.params == ("date", "region")
    assert [schedule.enabled for schedule in job.schedules] == [True, False]


def test_credentials_are_checked_at_load_with_their_lines(tmp_path: Path) -> None:
    (tmp_path / "j.yaml").write_text("program:\n  type: shell\n  command: 'true'\n  credentials:\n"
                                     "    token: etc/token\n    .x: /etc/x\n"
                                     "  encrypted_credentials: {token: /etc/token.cred}\n")
    assert problems(tmp_path) == [
        "j.yaml:5: program.credentials.token: must be an absolute path (starting with /), not 'etc/token'",
        "j.yaml:6: program.credentials..x: is not a credential name; use letters, digits, _, - and ., not starting "
        "with . or -"]
    (tmp_path / "j.yaml").write_text("program:\n  type: shell\n  command: 'true'\n  credentials: {token: /etc/t}\n"
                                     "  encrypted_credentials: {token: /etc/token.cred}\n")
    assert problems(tmp_path) == [
        "j.yaml:5: program.encrypted_credentials.token: is also in credentials; give each name once"]
