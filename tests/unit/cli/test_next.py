"""`apsis next`: the next instants with their args, in a zone and in UTC, or as JSON; clear usage errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from apsisd.cli.main import apsis

JOB = """\
params: [date, region]
schedule:
  - type: daily
    tz: America/New_York
    daytime: ["02:30", "09:30"]
    args: {region: US}
  - start: {type: interval, interval: 12h, phase: 1h, args: {region: any, ignored: x}}
    stop: 30m
program: echo {{ date }} {{ region }}
"""


@pytest.fixture
def jobs(tmp_path: Path) -> Path:
    (tmp_path / "etl").mkdir()
    (tmp_path / "etl" / "load.yaml").write_text(JOB)
    (tmp_path / "manual.yaml").write_text("program: echo\n")
    return tmp_path


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(apsis, ["next", *args], env=env)


def test_human_output_in_the_zone_and_in_utc_across_spring_forward(jobs: Path) -> None:
    # 2026-03-08: New York springs forward at 02:00; 02:30 does not exist and runs at 03:00 EDT.
    result = run("etl/load", "--jobs", str(jobs), "-n", "5", "--from", "2026-03-08T00:00", "--tz", "America/New_York")
    assert result.exit_code == 0, result.output
    assert result.stdout == """\
            Job: etl/load
      Schedules: daily, interval (with stop)
           From: Sun 2026-03-08 00:00:00 EST
    Next elapse: Sun 2026-03-08 03:00:00 EDT
       (in UTC): Sun 2026-03-08 07:00:00 UTC
           Args: date=2026-03-08 region=US
       Iter. #2: Sun 2026-03-08 09:00:00 EDT
       (in UTC): Sun 2026-03-08 13:00:00 UTC
           Stop: Sun 2026-03-08 09:30:00 EDT
           Args: date=2026-03-08 region=any
       Iter. #3: Sun 2026-03-08 09:30:00 EDT
       (in UTC): Sun 2026-03-08 13:30:00 UTC
           Args: date=2026-03-08 region=US
       Iter. #4: Sun 2026-03-08 21:00:00 EDT
       (in UTC): Mon 2026-03-09 01:00:00 UTC
           Stop: Sun 2026-03-08 21:30:00 EDT
           Args: date=2026-03-09 region=any
       Iter. #5: Mon 2026-03-09 02:30:00 EDT
       (in UTC): Mon 2026-03-09 06:30:00 UTC
           Args: date=2026-03-09 region=US
"""


def test_json_in_order_with_offsets_and_only_the_params(jobs: Path) -> None:
    result = run("etl/load", "--jobs", str(jobs), "-n", "3", "--from", "2026-03-08T06:00:00Z", "--json",
                 "--tz", "America/New_York")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"time": "2026-03-08T03:00:00-04:00", "args": {"date": "2026-03-08", "region": "US"}},
        {"time": "2026-03-08T09:00:00-04:00", "args": {"date": "2026-03-08", "region": "any"},
         "stop": "2026-03-08T09:30:00-04:00"},
        {"time": "2026-03-08T09:30:00-04:00", "args": {"date": "2026-03-08", "region": "US"}},
    ]


def test_from_without_an_offset_is_in_the_tz_and_the_default_tz_is_the_local_one(jobs: Path) -> None:
    utc = run("etl/load", "--jobs", str(jobs), "-n", "1", "--json", "--from", "2026-07-01T13:00",
              env={"TZ": "UTC"})
    tokyo = run("etl/load", "--jobs", str(jobs), "-n", "1", "--json", "--from", "2026-07-01T13:00",
                env={"TZ": "Asia/Tokyo"})
    assert json.loads(utc.stdout)[0]["time"] == "2026-07-01T13:00:00+00:00"  # the interval, at the start itself
    assert json.loads(tokyo.stdout)[0]["time"] == "2026-07-01T15:30:00+09:00"  # 02:30 EDT, from 04:00 UTC


def test_in_utc_the_utc_line_is_left_out(jobs: Path) -> None:
    result = run("etl/load", "--jobs", str(jobs), "-n", "1", "--from", "2026-07-01T00:00Z", "--tz", "UTC")
    assert "(in UTC)" not in result.stdout
    assert "    Next elapse: Wed 2026-07-01 01:00:00 UTC\n" in result.stdout


def test_a_job_without_schedules(jobs: Path) -> None:
    result = run("manual", "--jobs", str(jobs), "--from", "2026-07-01T00:00Z", "--tz", "UTC")
    assert result.stdout.splitlines()[1:] == [
        "      Schedules: none", "           From: Wed 2026-07-01 00:00:00 UTC",
        "    Next elapse: never (no enabled schedule gives a time from here)"]
    assert run("manual", "--jobs", str(jobs), "--json").stdout == "[]\n"


def test_the_job_id_may_be_given_as_its_file_name(jobs: Path) -> None:
    result = run("etl/load.yaml", "--jobs", str(jobs), "-n", "1", "--json", "--from", "2026-07-01T00:00Z")
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["etl/lod"], "apsis: no job 'etl/lod' in {jobs}; did you mean etl/load?"),
    (["nothing-like-it"], "apsis: no job 'nothing-like-it' in {jobs}"),
    (["etl/load", "--from", "tomorrow"],
     "apsis: --from: 'tomorrow' is not an ISO 8601 time such as 2026-03-01T09:30 or 2026-03-01T09:30:00+01:00"),
    (["etl/load", "--tz", "Mars/Base"],
     "apsis: --tz: unknown time zone 'Mars/Base'; use an IANA name such as Europe/London or UTC"),
])
def test_errors_are_one_line_and_exit_2(jobs: Path, args: list[str], message: str) -> None:
    result = run(*args, "--jobs", str(jobs))
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message.format(jobs=jobs) + "\n")


def test_a_missing_folder_and_a_bad_count(jobs: Path) -> None:
    result = run("x", "--jobs", str(jobs / "nope"))
    assert (result.exit_code, result.stderr) == (2, f"apsis: {jobs}/nope: not a folder of job files\n")
    result = run("etl/load", "--jobs", str(jobs), "-n", "0")
    assert result.exit_code == 2 and "Invalid value for '-n': 0 is not in the range x>=1." in result.stderr


def test_a_folder_with_problems_prints_them_and_exits_1(jobs: Path) -> None:
    (jobs / "broken.yaml").write_text("program: {type: nope}\n")
    result = run("etl/load", "--jobs", str(jobs))
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{jobs}/broken.yaml:1: program.type: unknown program type")


def test_the_console_script(jobs: Path) -> None:
    (jobs / "etl" / "load.yaml").write_text("params: [schedule_time]\n"
                                            "schedule: {type: explicit, times: ['2030-01-01T00:00:00+01:00']}\n"
                                            "program: echo\n")
    script = Path(sys.executable).parent / "apsis"
    proc = subprocess.run([str(script), "next", "etl/load", "--jobs", str(jobs), "--json", "--tz", "UTC",
                           "--from", "2029-12-31T00:00:00Z"], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert json.loads(proc.stdout) == [
        {"time": "2029-12-31T23:00:00+00:00", "args": {"schedule_time": "2029-12-31T23:00:00+00:00"}}]


def test_args_a_job_file_gives_are_printed_escaped(tmp_path: Path) -> None:
    (tmp_path / "hostile.yaml").write_text('params: [who]\nschedule: {type: interval, interval: 1h, args: '
                                           '{who: "\\e[2J\\r\\nforged \\u202e"}}\nprogram: "true"\n')
    result = run("hostile", "--jobs", str(tmp_path), "-n", "1", "--tz", "UTC")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\r" not in result.stdout and "\u202e" not in result.stdout
    assert r"Args: who=\x1b[2J\r\nforged \u202e" in result.stdout
