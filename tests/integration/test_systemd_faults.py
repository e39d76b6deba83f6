"""systemd's own life does not lose runs: re-exec, reload, journald restarting, the bus lost, an operator's systemctl.

Each fault hits while runs are starting, running and ending (a long run
printing a line every 0.5 s, short runs due every 0.5 s around it that exit
with their own code), and every run must end with the program's own outcome,
started once, its output whole.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentd.host import Finished, Started
from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from agentd.types import RunId
from apsisd.runs.model import Run
from apsisd.runs.state import State
from tests.integration.conftest import all_events, apsis_units, finished, hosted, new_run_id, output, wait_until
from tests.integration.daemon import Daemon, soon, with_daemon
from tests.integration.test_recovery import start_elsewhere, unit_gone_or_ended

SHORT = 12  # short runs, due every 0.5 s from FIRST on
FIRST = 3.0  # seconds from writing the job files: after apsisd is up (it does not catch up on its first start)
LONG_LINES = 20  # the long run prints a line every 0.5 s for 10 s


def _systemctl(*args: str) -> None:
    subprocess.run(["systemctl", *args], check=True, capture_output=True, timeout=60)


async def _output_lines(run_id: str) -> list[str]:
    async with LocalHost(call_timeout=10) as host:
        return (await output(host, RunId(run_id))).decode().splitlines()


def _jobs(daemon: Daemon, ids: Path) -> None:
    daemon.job("long", f"""
        schedule: {{type: explicit, times: ["{soon(FIRST)}"]}}
        program: 'echo $APSIS_RUN_ID >> {ids}; for n in $(seq 1 {LONG_LINES}); do echo line-$n; sleep 0.5; done'
        scheduling: {{catchup: all}}
    """)
    schedules = ", ".join(f'{{type: explicit, times: ["{soon(FIRST + i / 2)}"], args: {{i: "{i}"}}}}'
                          for i in range(SHORT))
    daemon.job("short", f"""
        params: [i]
        schedule: [{schedules}]
        program: 'echo $APSIS_RUN_ID >> {ids}; sleep 1; i={{{{ i }}}}; exit $((i % 3))'
        scheduling: {{catchup: all}}
    """)


def _mid_flight(runs: list[Run]) -> bool:
    """The long run running, some short runs ended and others not yet due: the moment for a fault."""
    long = [run for run in runs if run.job_id == "long"]
    short = [run for run in runs if run.job_id == "short"]
    return (len(long) == 1 and long[0].state is State.RUNNING and any(run.finished for run in short)
            and any(run.state is State.SCHEDULED for run in short))


async def _check_all(daemon: Daemon, ids: Path) -> None:
    """Every run ended with its program's outcome, was started once, and the long run's output is whole."""
    runs = await daemon.wait_runs(lambda runs: len(runs) == SHORT + 1 and all(run.finished for run in runs),
                                  what="every run to end", timeout=60)
    started = Counter(ids.read_text().split())
    assert [run_id for run_id, count in started.items() if count > 1] == []  # none started twice
    assert sorted(started) == sorted(run.id for run in runs)  # none lost
    for run in runs:
        code = int(run.args["i"]) % 3 if run.job_id == "short" else 0
        expected = (State.SUCCESS, 0, "exit code 0") if code == 0 else (State.FAILURE, code, f"exit code {code}")
        assert (run.state, run.exit_code, run.reason) == expected, (run.id, run.args, run.reason)
    (long,) = [run for run in runs if run.job_id == "long"]
    assert await _output_lines(long.id) == [f"line-{n}" for n in range(1, LONG_LINES + 1)]


async def _across(daemon: Daemon, fault: Callable[[], None]) -> None:
    ids = daemon.root / "ids"
    _jobs(daemon, ids)
    await daemon.start()
    await daemon.wait_runs(_mid_flight, what="runs starting, running and ended", poll=0.02)
    fault()
    await _check_all(daemon, ids)


@with_daemon(timeout=120)
async def test_daemon_reexec_loses_no_run(daemon: Daemon) -> None:
    """What Debian does on every upgrade of systemd: the units are re-read from their files, and systemd 252
    cannot read back the ExecStartEx= it wrote there (bad-setting); they run on, and are not lost."""
    await _across(daemon, lambda: _systemctl("daemon-reexec"))
    assert "is gone and the journal does not say how it ended" not in daemon.log()


@with_daemon(timeout=120)
async def test_daemon_reload_loses_no_run(daemon: Daemon) -> None:
    await _across(daemon, lambda: _systemctl("daemon-reload"))


@with_daemon(timeout=120)
async def test_journald_restart_loses_no_output_line(daemon: Daemon) -> None:
    """journald keeps the runs' streams in PID 1's fd store across its restart; not one line is lost."""
    await _across(daemon, lambda: _systemctl("restart", "systemd-journald"))


# -- armed runs: their argv read back from the unit file ------------------------------------------------------

# Arguments are data, never code: no $VAR, no specifier, no quoting of systemd's may change them.
ODD_ARGS = ["$HOME", "$$", "${HOME}", "$", "a$", "$(id)", "`id`", "%h", "%%", "%", "'", '"', "\\", "\\n", "a\nb",
            " ", "  x y  ", "", ";", "\\;", "a;b", "-x", "@x", ":x", "+x", "!x", "é", "\t", "\x01", "*", "~"]
ARGV_DUMP = "import sys, json; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"


@pytest.mark.parametrize("fault", ["none", "daemon-reload", "daemon-reexec"])
@hosted(timeout=90)
async def test_an_armed_run_starts_on_time_with_its_exact_args_across_a_reload(
        host: LocalHost, tmp_path: Path, fault: str) -> None:
    """A run armed ahead (timer and service made now) whose unit files systemd re-reads before it is due."""
    got = tmp_path / "argv.json"
    run_id = new_run_id()
    at = datetime.now(UTC) + timedelta(seconds=3)
    await host.start(RunSpec(run_id=run_id, argv=("python3", "-c", ARGV_DUMP, str(got), *ODD_ARGS),
                             env={"HOME": "/not-home"}), at=at)
    if fault != "none":
        _systemctl(fault)
    events = await all_events(host, run_id)
    assert [type(event) for event in events] == [Started, Finished], events
    started, end = events
    assert isinstance(started, Started) and isinstance(end, Finished)
    assert (end.result, end.exit_code) == ("success", 0)
    assert started.start_time is not None and started.start_time >= at
    assert json.loads(got.read_text()) == ODD_ARGS


# -- the bus lost --------------------------------------------------------------------------------------------

@hosted(timeout=90)
async def test_bus_lost_for_seconds_while_runs_start_and_end(host: LocalHost, tmp_path: Path) -> None:
    """apsis cannot reach the bus for 3 s (the address leads nowhere): runs that end meanwhile, and runs asked
    to start meanwhile, all end with their own outcome, each started once."""
    ids = tmp_path / "ids"

    def spec(i: int, seconds: float) -> RunSpec:
        return RunSpec(run_id=new_run_id(), shell=f"echo {i} >> {ids}; sleep {seconds}; exit {i % 3}")

    before = [spec(i, 0.5 + i / 4) for i in range(6)]  # ending before, while and after the bus is away
    for each in before:
        await host.start(each)
    address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = f"unix:path={tmp_path}/no-bus"
    try:
        host.drop_bus()
        during = [spec(i, 0.5) for i in range(6, 9)]
        starts = [asyncio.create_task(host.start(each)) for each in during]  # wait for the bus to come back
        await asyncio.sleep(3)  # the fault lasts seconds, by design: nothing to wait for
    finally:
        if address is None:
            del os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
    await asyncio.gather(*starts)
    for i, each in enumerate([*before, *during]):
        ends = [event for event in await all_events(host, each.run_id) if isinstance(event, Finished)]
        assert [(end.exit_code, end.result != "unknown") for end in ends] == [(i % 3, True)], (i, ends)
    assert sorted(Counter(ids.read_text().split()).items()) == [(str(i), 1) for i in range(9)]


def _journal_forgets(unit: str) -> bool:
    """Rotate the journal and drop every archived file: true once nothing of the unit is left in it."""
    subprocess.run(["journalctl", "--rotate", "--vacuum-time=1s"], check=True, capture_output=True, timeout=60)
    return not subprocess.run(["journalctl", "--quiet", "--no-pager", f"UNIT={unit}"], capture_output=True,
                              text=True, timeout=60).stdout.strip()


@hosted(timeout=120)
async def test_a_run_systemd_and_the_journal_both_forgot_is_lost_and_said_so(host: LocalHost, tmp_path: Path) -> None:
    """The one case a run is lost: its unit ended while the bus was away, and the journal no longer has it."""
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, shell="sleep 1"))  # a success: systemd unloads it
    events = host.events(run_id)
    assert isinstance(await anext(events), Started)
    address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = f"unix:path={tmp_path}/no-bus"
    try:
        host.drop_bus()
        unit = f"apsis-{run_id}.service"
        await wait_until(lambda: _unit_state(unit) == ("not-found", "inactive"), "the unit to end and go")
        await wait_until(lambda: _journal_forgets(unit), "the journal to forget the unit", timeout=30)
    finally:
        if address is None:
            del os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
    end = await anext(events)
    assert isinstance(end, Finished) and (end.result, end.exit_code, end.recovered) == ("unknown", None, True)


def _unit_state(unit: str) -> tuple[str, str]:
    out = subprocess.run(["systemctl", "show", "--value", "-p", "LoadState,ActiveState", unit], capture_output=True,
                         text=True, timeout=60).stdout.split()
    return out[0], out[1]


# -- an operator's systemctl ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("command", "signal", "reason"), [
    (["stop"], "TERM", "stopped outside apsis (systemctl stop): killed by signal TERM"),
    (["kill", "--signal=KILL"], "KILL", "killed by signal KILL, sent from outside apsis"),
])
@with_daemon()
async def test_an_operator_stopping_or_killing_a_run_with_systemctl_is_recorded_as_such(
        daemon: Daemon, command: list[str], signal: str, reason: str) -> None:
    daemon.job("sleepy", f'schedule: {{type: explicit, times: ["{soon(FIRST)}"]}}\nprogram: "sleep 300"\n'
                         'scheduling: {catchup: all}\n')
    await daemon.start()
    (run,) = await daemon.wait_runs(lambda runs: len(runs) == 1 and runs[0].state is State.RUNNING, "sleepy")
    _systemctl(*command, f"apsis-{run.id}.service")
    (run,) = await daemon.wait_runs(lambda runs: runs[0].finished, "sleepy", "the run's end")
    assert (run.state, run.signal, run.reason) == (State.FAILURE, signal, reason)


@with_daemon()
async def test_a_unit_still_there_is_never_lost(daemon: Daemon) -> None:
    """apsisd restarts while a run's unit, re-read by systemd (bad-setting), still runs: it follows it to its end."""
    ids = daemon.root / "ids"
    daemon.job("j", f'schedule: {{type: explicit, times: ["{soon(FIRST)}"]}}\nscheduling: {{catchup: all}}\n'
                    f'program: "echo $APSIS_RUN_ID >> {ids}; sleep 3; exit 5"\n')
    await daemon.start()
    (run,) = await daemon.wait_runs(lambda runs: len(runs) == 1 and runs[0].state is State.RUNNING, "j")
    await daemon.kill()
    _systemctl("daemon-reload")
    await daemon.start()
    (run,) = await daemon.wait_runs(lambda runs: runs[0].finished, "j", "the run's end")
    assert (run.state, run.exit_code, run.reason) == (State.FAILURE, 5, "exit code 5")
    assert ids.read_text().split() == [run.id]
    # Failed and bad-setting, systemd refuses to reset it: it must not need to (CollectMode).
    await wait_until(lambda: f"apsis-{run.id}.service" not in apsis_units(), "its unit to be unloaded", timeout=10)


@hosted()
async def test_a_run_that_failed_while_apsis_was_away_leaves_no_unit_across_a_reexec(host: LocalHost) -> None:
    """A failed unit nobody read is re-read as bad-setting by a re-exec (Debian's every upgrade of systemd), and
    systemd refuses to reset a bad-setting unit: had it kept failed units, the unit would stay loaded for good."""
    before, after = new_run_id(), new_run_id()
    start_elsewhere(run_id=before, shell="exit 3")  # fails before the re-exec
    start_elsewhere(run_id=after, shell="sleep 2; exit 4")  # fails after it
    await wait_until(lambda: unit_gone_or_ended(f"apsis-{before}.service"), "the first run to end")
    _systemctl("daemon-reexec")
    assert [(await finished(host, run_id)).exit_code for run_id in (before, after)] == [3, 4]
    await wait_until(lambda: not {f"apsis-{before}.service", f"apsis-{after}.service"} & set(apsis_units()),
                     "both units to be unloaded", timeout=10)

