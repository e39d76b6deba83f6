"""What a run spec becomes: user, environment, folder, limits, names; and bad specs start nothing."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agentd.errors import SpecError
from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from agentd.types import JobId
from tests.integration.conftest import apsis_units, finished, hosted, new_run_id, output, unit_property


@hosted()
async def test_user_nobody(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, argv=("/usr/bin/id", "-un"), user="nobody"))
    assert (await finished(host, run_id)).succeeded
    assert await output(host, run_id) == b"nobody\n"


@hosted()
async def test_environment_and_working_directory_are_passed_exactly(host: LocalHost, tmp_path: Path) -> None:
    run_id = new_run_id()
    env = {"GREETING": "two words $HOME ${PATH} `id`", "EMPTY": ""}
    argv = ("/bin/sh", "-c", 'printf "%s|%s|%s|%s\\n" "$GREETING" "$EMPTY" "$PWD" "$1"', "sh", "$HOME; echo pwned")
    await host.start(RunSpec(run_id=run_id, argv=argv, env=env, cwd=str(tmp_path)))
    assert (await finished(host, run_id)).succeeded
    expected = f"two words $HOME ${{PATH}} `id`||{tmp_path}|$HOME; echo pwned\n"
    assert (await output(host, run_id)).decode() == expected


@hosted()
async def test_unit_name_slice_journal_fields_and_limits(host: LocalHost) -> None:
    run_id = new_run_id()
    spec = RunSpec(run_id=run_id, job_id=JobId("reports/daily sales"), shell="nice; sleep 30",
                   memory_max=256 * 2**20, cpu_quota=50, tasks_max=64, nice=5, timeout=120)
    started = await host.start(spec)
    unit = f"apsis-{run_id}.service"
    assert started.unit == unit and not started.adopted
    assert unit_property(unit, "Slice") == "apsis.slice"
    assert unit_property(unit, "MemoryMax") == str(256 * 2**20)
    assert unit_property(unit, "CPUQuotaPerSecUSec") == "500ms"
    assert unit_property(unit, "TasksMax") == "64"
    assert unit_property(unit, "Nice") == "5"
    assert unit_property(unit, "RuntimeMaxUSec") == "2min"
    assert unit_property(unit, "LogRateLimitIntervalUSec") == "1us"
    await host.stop(run_id)
    await finished(host, run_id)
    assert await output(host, run_id) == b"5\n"
    fields = subprocess.run(
        ["journalctl", "-o", "json", "--output-fields=SYSLOG_IDENTIFIER,APSIS_JOB_ID,_SYSTEMD_UNIT",
         f"APSIS_RUN_ID={run_id}", "_TRANSPORT=stdout"], capture_output=True, text=True, check=True).stdout
    assert '"SYSLOG_IDENTIFIER":"reports/daily sales"' in fields
    assert '"APSIS_JOB_ID":"reports/daily sales"' in fields
    assert f'"_SYSTEMD_UNIT":"{unit}"' in fields


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"argv": ()}, "argv"),
        ({"argv": ("",)}, "argv[0]"),
        ({"argv": ("no-such-program-anywhere",)}, "argv[0]"),
        ({"argv": ("/etc/passwd",)}, "argv[0]"),
        ({"user": "no-such-user-here"}, "user"),
        ({"group": "no-such-group-here"}, "group"),
        ({"stop_signal": "SIGNOPE"}, "stop.signal"),
        ({"timeout": -1}, "timeout"),
        ({"grace_period": -0.5}, "stop.grace_period"),
        ({"cwd": "relative/dir"}, "cwd"),
        ({"env": {"BAD NAME": "x"}}, "env.BAD NAME"),
        ({"nice": 40}, "limits.nice"),
    ],
)
@hosted()
async def test_bad_specs_are_refused_naming_the_field_and_start_nothing(
    host: LocalHost, changes: dict, field: str
) -> None:
    before = apsis_units()
    spec = {"run_id": new_run_id(), "argv": ("/bin/true",), **changes}
    with pytest.raises(SpecError) as error:
        await host.start(RunSpec(**spec))
    assert error.value.field == field
    assert field in str(error.value)
    assert apsis_units() == before
