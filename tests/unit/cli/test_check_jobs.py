"""`apsis check-jobs`: problems one per line with exit 1, a summary with exit 0, usage errors with exit 2."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from apsisd.cli.main import apsis

ROOT = Path(__file__).resolve().parents[3]


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_a_sound_folder_gives_a_summary_and_exit_0(tmp_path: Path) -> None:
    write(tmp_path, {
        "a.yaml": "schedule: [{type: interval, interval: 1h}, {type: interval, interval: 1d}]\nprogram: echo\n",
        "b/c.yaml": "program: echo\n",
        "hols.calendar": "2026-12-25\n",
    })
    result = CliRunner().invoke(apsis, ["check-jobs", str(tmp_path)])
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, f"{tmp_path}: 2 jobs, 1 calendar, 2 schedules: no problems\n", "")


def test_the_examples_pass() -> None:
    result = CliRunner().invoke(apsis, ["check-jobs", str(ROOT / "etc" / "jobs")])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(" calendar, 9 schedules: no problems\n")


def test_problems_one_per_line_and_exit_1(tmp_path: Path) -> None:
    write(tmp_path, {
        "a.yaml": "program: {type: shell}\n",
        "b.yaml": "params: [date]\nschedule: {type: explicit, times: ['2026-01-01T00:00:00Z']}\nprogram: echo\n",
        "c.yaml": "program: echo\n",
    })
    result = CliRunner().invoke(apsis, ["check-jobs", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path}/a.yaml:1: program.command: is required",
        f"{tmp_path}/b.yaml:2: schedule: gives no value for param 'date'; add it to the schedule's args "
        "(args: {date: ...}) or remove it from params",
    ]
    assert result.stderr == "2 problems in 2 files\n"


@pytest.mark.parametrize("name", ["missing", "file.txt"])
def test_a_bad_folder_is_one_line_and_exit_2(tmp_path: Path, name: str) -> None:
    (tmp_path / "file.txt").write_text("")
    result = CliRunner().invoke(apsis, ["check-jobs", str(tmp_path / name)])
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", f"apsis: {tmp_path / name}: not a folder of job files\n")


def test_without_a_folder_the_configured_one_is_checked(tmp_path: Path) -> None:
    write(tmp_path, {"conf/apsisd.toml": 'jobs_dir = "../my jobs"\ncalendars_dir = "../cals"\n',
                     "my jobs/a.yaml": "schedule: {type: daily, tz: UTC, daytime: '09:00', calendar: x}\n"
                                       "program: echo\n",
                     "cals/x.calendar": "2026-12-25\n"})
    result = CliRunner().invoke(apsis, ["check-jobs"], env={"APSIS_CONFIG": str(tmp_path / "conf/apsisd.toml")})
    assert (result.exit_code, result.stdout) == (0, f"{tmp_path}/conf/../my jobs: 1 job, 1 calendar, 1 schedule: "
                                                    "no problems\n")


def test_a_broken_configuration_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "apsisd.toml").write_text("jobs_dir = [1]\n")
    result = CliRunner().invoke(apsis, ["check-jobs"], env={"APSIS_CONFIG": str(tmp_path / "apsisd.toml")})
    assert (result.exit_code, result.stderr) == (
        2, f"apsis: {tmp_path}/apsisd.toml:1: jobs_dir: must be the path of a folder, as a string, not a list\n")


def test_the_console_script(tmp_path: Path) -> None:
    write(tmp_path, {"bad.yaml": "program: echo\nextra: 1\n", "ok.yaml": "program: echo\n"})
    script = Path(sys.executable).parent / "apsis"
    proc = subprocess.run([str(script), "check-jobs", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, f"{tmp_path}/bad.yaml:2: extra: unknown key; allowed here: action, condition, host, metadata, params, "
           "program, retry, schedule, scheduling, successors\n", "1 problem in 1 file\n")
    (tmp_path / "bad.yaml").unlink()
    proc = subprocess.run([str(script), "check-jobs", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{tmp_path}: 1 job, 0 calendars, 0 schedules: "
                                                              "no problems\n", "")
    proc = subprocess.run([str(script), "check-jobs", str(tmp_path / "nope")], capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"apsis: {tmp_path}/nope: not a folder of job "
                                                                  "files\n")
