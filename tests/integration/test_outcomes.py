"""How runs end, as the real systemd tells it through LocalHost."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from agentd.host import Started
from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from tests.integration.conftest import all_events, finished, hosted, new_run_id


@pytest.mark.parametrize(
    ("shell", "result", "exit_code", "signal"),
    [
        ("exit 0", "success", 0, None),
        ("exit 1", "exit-code", 1, None),
        ("exit 137", "exit-code", 137, None),
        ("kill -s USR1 $$", "signal", None, "USR1"),
        ("kill -s KILL $$", "signal", None, "KILL"),
    ],
)
@hosted()
async def test_exit_codes_and_signals(host: LocalHost, shell: str, result: str, exit_code: int | None,
                                      signal: str | None) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, shell=shell))
    events = await all_events(host, run_id)
    assert [type(e).__name__ for e in events] == ["Started", "Finished"]
    started, end = events
    assert isinstance(started, Started)
    assert started.main_pid and started.main_pid > 1
    assert len(started.invocation_id) == 32
    assert (end.result, end.exit_code, end.signal) == (result, exit_code, signal)
    assert end.succeeded is (result == "success")
    assert end.invocation_id == started.invocation_id
    assert end.start_time and end.end_time and end.start_time <= end.end_time
    assert end.cpu_time_ns is not None and end.cpu_time_ns > 0
    assert not end.recovered


@hosted()
async def test_timeout_ends_the_run_with_result_timeout(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, argv=("/bin/sleep", "30"), timeout=0.5))
    end = await finished(host, run_id)
    assert end.result == "timeout"
    assert not end.succeeded
    assert (end.end_time - end.start_time).total_seconds() < 10  # type: ignore[operator]


@hosted()
async def test_program_that_cannot_start_as_its_user_fails_without_a_started_run(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, argv=("/bin/true",), cwd="/nonexistent-folder"))
    end = await finished(host, run_id)
    assert end.result == "exit-code"
    assert end.exit_code == 200  # systemd's CHDIR failure, before the program ran


def test_a_timer_armed_for_an_instant_already_past_fires_at_once(tmp_path: Path) -> None:
    """What arming relies on when systemd takes the timer in late: a first OnStartupSec already past fires at
    once (systemd drops past one-shot triggers only when a timer is started again), so no run is lost."""
    done = tmp_path / "fired"
    subprocess.run(["systemd-run", "--quiet", "--on-startup=1us", "--timer-property=AccuracySec=1us",
                    "--unit=apsis-test-past-timer", "/bin/touch", str(done)], check=True, timeout=30)
    for _ in range(200):
        if done.exists():
            break
        time.sleep(0.05)
    assert done.exists()
