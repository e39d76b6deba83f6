"""The journal is evidence: records any local user can write (forged by `nobody` here) change neither a run's
output nor the outcome read back from the journal; only the fields journald sets itself count (docs/host.md).
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import textwrap

import pytest

from agentd.errors import RunNotFound
from agentd.local.host import LocalHost
from agentd.spec import RunSpec, Stream
from agentd.systemd import outcome
from agentd.types import JobId, RunId
from apsisd.runs.state import State
from tests.integration.conftest import apsis_units, finished, hosted, new_run_id, output, wait_until
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.test_daemon_output import get, post_json
from tests.integration.test_recovery import start_elsewhere, unit_gone_or_ended

# A stream to journald whose header names a unit, as PID 1's do (journald believes that only from root).
STREAM_NAMING_A_UNIT = textwrap.dedent("""
    import socket, sys
    unit, identifier = sys.argv[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("/run/systemd/journal/stdout")
    s.sendall(f"{identifier}\\n{unit}\\n6\\n0\\n0\\n0\\n0\\nforged by a named stream\\n".encode())
""")


def as_nobody(*argv: str, stdin: str = "") -> None:
    subprocess.run(["runuser", "-u", "nobody", "--", *argv], input=stdin.encode(), check=True, timeout=30)


def forge_record(**fields: str) -> None:
    """One native record with these fields, written by nobody (logger --journald: any user may)."""
    as_nobody("logger", "--journald", stdin="".join(f"{k}={v}\n" for k, v in fields.items()))


def forge_output(run_id: RunId, identifier: str) -> None:
    """Every way nobody can write a line that looks like the run's output."""
    unit = f"apsis-{run_id}.service"
    for ident in {identifier, f"apsis-{run_id}"}:
        as_nobody("systemd-cat", "-t", ident, "echo", "forged by systemd-cat")
        as_nobody("systemd-cat", "-t", ident, "-p", "err", "echo", "forged on stderr")
        as_nobody("python3", "-c", STREAM_NAMING_A_UNIT, unit, ident)
        forge_record(MESSAGE="forged natively", SYSLOG_IDENTIFIER=ident, APSIS_RUN_ID=run_id, UNIT=unit,
                     _SYSTEMD_UNIT=unit, _TRANSPORT="stdout", PRIORITY="6")
    subprocess.run(["journalctl", "--sync"], check=True, timeout=30)


def invocation_of(unit: str) -> str:
    """The unit's invocation id, from PID 1's records of it (a forger may know it as well). Not only from
    "Started": a program that exits at once may fail before PID 1 has seen it start."""
    subprocess.run(["journalctl", "--sync"], check=True, timeout=30)
    out = subprocess.run(["journalctl", "-o", "json", f"UNIT={unit}", "_PID=1"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return str([json.loads(line) for line in out.splitlines()][-1]["INVOCATION_ID"])


@hosted()
async def test_forged_records_do_not_turn_a_failure_read_back_from_the_journal_into_a_success(
        host: LocalHost) -> None:
    run_id = new_run_id()
    unit = f"apsis-{run_id}.service"
    start_elsewhere(run_id=run_id, shell="exit 1")  # an apsis that dies at once: the outcome is read back later
    await wait_until(lambda: unit_gone_or_ended(unit), "the unit to end", timeout=30)
    # Failed, unreferenced, it is unloaded (CollectMode): only the journal tells.
    await wait_until(lambda: unit not in apsis_units(), "systemd to unload the failed unit")
    invocation = invocation_of(unit)
    # PID 1's records of a clean end, and apsis's notes of a stop and a signal, as nobody can write them
    # (underscore fields too: journald drops them).
    forge_record(MESSAGE=f"{unit}: Main process exited, code=exited, status=0/SUCCESS", UNIT=unit,
                 MESSAGE_ID=outcome.MSG_PROCESS_EXITED, EXIT_CODE="exited", EXIT_STATUS="0",
                 INVOCATION_ID=invocation, SYSLOG_IDENTIFIER="systemd", _PID="1", _UID="0")
    forge_record(MESSAGE=f"{unit}: Deactivated successfully.", UNIT=unit, MESSAGE_ID=outcome.MSG_SUCCEEDED,
                 INVOCATION_ID=invocation, SYSLOG_IDENTIFIER="systemd", _PID="1", _UID="0")
    forge_record(MESSAGE=f"apsis: stopping {unit}", SYSLOG_IDENTIFIER="apsisd", APSIS_RUN_ID=run_id,
                 APSIS_ACTION="stop", UNIT=unit)
    forge_record(MESSAGE=f"apsis: sending SIGKILL to {unit}", SYSLOG_IDENTIFIER="apsisd", APSIS_RUN_ID=run_id,
                 APSIS_ACTION="kill", APSIS_SIGNAL="KILL", UNIT=unit)
    subprocess.run(["journalctl", "--sync"], check=True, timeout=30)
    end = await finished(host, run_id)
    assert end.recovered
    assert (end.result, end.exit_code, end.signal, end.stop_requested, end.signals_sent) == (
        "exit-code", 1, None, False, ()), end
    assert end.invocation_id == invocation


@hosted()
async def test_a_forged_start_does_not_make_a_run_nobody_started_exist(host: LocalHost) -> None:
    run_id = new_run_id()
    unit = f"apsis-{run_id}.service"
    forge_record(MESSAGE=f"Started {unit}.", UNIT=unit, MESSAGE_ID=outcome.MSG_STARTED,
                 INVOCATION_ID="0123456789abcdef0123456789abcdef", SYSLOG_IDENTIFIER="systemd")
    forge_record(MESSAGE=f"{unit}: Deactivated successfully.", UNIT=unit, MESSAGE_ID=outcome.MSG_SUCCEEDED,
                 INVOCATION_ID="0123456789abcdef0123456789abcdef", SYSLOG_IDENTIFIER="systemd")
    subprocess.run(["journalctl", "--sync"], check=True, timeout=30)
    with pytest.raises(RunNotFound):
        await finished(host, run_id)


@pytest.mark.parametrize("user", [None, "nobody"])
@hosted()
async def test_forged_lines_are_not_a_runs_output(host: LocalHost, user: str | None) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, job_id=JobId("report"), user=user, shell="echo real; echo real err >&2"))
    assert (await finished(host, run_id)).succeeded
    forge_output(run_id, "report")
    assert await output(host, run_id) == b"real\nreal err\n"
    async with LocalHost(call_timeout=10) as restarted:  # an apsis that did not see the run: the same
        assert await output(restarted, run_id) == b"real\nreal err\n"


@pytest.mark.parametrize("user", [None, "nobody"])
@hosted(timeout=120)
async def test_forged_lines_are_not_a_split_runs_output(host: LocalHost, user: str | None) -> None:
    # Many at once: journald reads some of these lines only after their writer is gone, without its unit.
    run_ids = [new_run_id() for _ in range(10)]
    for run_id in run_ids:
        await host.start(RunSpec(run_id=run_id, job_id=JobId("split"), user=user, shell="echo out; echo err >&2",
                                 split_output=True))
    for run_id in run_ids:
        await finished(host, run_id)
    for run_id in run_ids:
        forge_output(run_id, "split")
    expected = [(b"out\n", b"err\n", [b"err", b"out"])] * len(run_ids)  # journald reads each stream on its own
    for reader in (host, LocalHost(call_timeout=10)):  # and an apsis that did not see the runs
        async with contextlib.AsyncExitStack() as stack:
            if reader is not host:
                await stack.enter_async_context(reader)
            assert [(await output(reader, r, stream=Stream.STDOUT), await output(reader, r, stream=Stream.STDERR),
                     sorted((await output(reader, r)).splitlines())) for r in run_ids] == expected


@hosted()
async def test_forged_lines_are_not_followed_as_a_runs_output(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, job_id=JobId("slow"), shell="echo one; sleep 2; echo two",
                             split_output=True))
    followed = []
    async for record in host.output(run_id, follow=True):
        followed.append(record.data)
        if record.data == b"one\n":
            forge_output(run_id, "slow")
    assert followed == [b"one\n", b"two\n"]


@with_daemon()
async def test_after_a_restart_apsisd_reports_the_real_end_and_output_whatever_was_forged(daemon: Daemon) -> None:
    daemon.job("fails", "program: 'echo real; sleep 2; exit 1'\n")
    daemon.job("splits", "program: {type: shell, command: 'echo out; echo err >&2; sleep 2; exit 1', "
                         "output: {split: true}}\n")
    await daemon.start()
    for job_id in ("fails", "splits"):
        await post_json("/api/v1/runs", {"job_id": job_id})
    runs = await daemon.wait_runs(lambda runs: len(runs) == 2 and all(r.state is State.RUNNING for r in runs),
                                  what="both running")
    await daemon.kill()  # they end while no apsisd runs
    for run in runs:
        unit = f"apsis-{run.id}.service"
        await wait_until(lambda unit=unit: unit_gone_or_ended(unit), "the unit to end", timeout=30)  # type: ignore[misc]
        await wait_until(lambda unit=unit: unit not in apsis_units(),  # type: ignore[misc]
                         "systemd to unload the failed unit")  # only the journal tells
        forge_record(MESSAGE=f"{unit}: Main process exited, code=exited, status=0/SUCCESS", UNIT=unit,
                     MESSAGE_ID=outcome.MSG_PROCESS_EXITED, EXIT_CODE="exited", EXIT_STATUS="0",
                     INVOCATION_ID=invocation_of(unit))
        forge_record(MESSAGE=f"{unit}: Deactivated successfully.", UNIT=unit, MESSAGE_ID=outcome.MSG_SUCCEEDED,
                     INVOCATION_ID=invocation_of(unit))
        forge_output(run.id, run.job_id or "")
    await daemon.start()
    runs = await daemon.wait_runs(lambda runs: all(r.finished for r in runs), what="both read back")
    assert [(r.job_id, r.state, r.exit_code) for r in runs] == [("fails", State.FAILURE, 1),
                                                                  ("splits", State.FAILURE, 1)]
    fails, splits = runs
    assert (await get(f"/api/v1/runs/{fails.id}/output"))[:2] == (200, b"real\n")
    assert (await get(f"/api/v1/runs/{splits.id}/output?stream=stdout"))[:2] == (200, b"out\n")
    assert (await get(f"/api/v1/runs/{splits.id}/output?stream=stderr"))[:2] == (200, b"err\n")
