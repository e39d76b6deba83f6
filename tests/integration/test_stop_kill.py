"""Stopping and signalling runs: the whole cgroup, and never mistaken for a success."""
from __future__ import annotations

import time
from pathlib import Path

from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from tests.integration.conftest import finished, hosted, new_run_id, wait_until


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@hosted()
async def test_stop_kills_double_forked_children_and_is_not_a_success(host: LocalHost, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # The grandchild escapes its parent (setsid, double fork, reparented to
    # PID 1) but not its cgroup.
    script = f"setsid sh -c 'sleep 300 & echo $! >> {pids}' & echo $$ >> {pids}; sleep 300"
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, shell=script, grace_period=5))
    await wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2, "both pids written")
    watched = [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in watched)
    await host.stop(run_id)
    end = await finished(host, run_id)
    assert end.stop_requested
    assert not end.succeeded
    assert end.signal == "TERM"
    await wait_until(lambda: not any(alive(p) for p in watched), "every process of the run to be gone")


@hosted()
async def test_stop_uses_the_stop_signal_then_sigkill_after_the_grace_period(
    host: LocalHost, tmp_path: Path
) -> None:
    got, ready = tmp_path / "got", tmp_path / "ready"
    script = f"trap 'echo INT >> {got}' INT; trap '' TERM; touch {ready}; while :; do sleep 0.05; done"
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, shell=script, stop_signal="INT", grace_period=1.0))
    await wait_until(ready.exists, "the program to set its traps")
    began = time.monotonic()
    await host.stop(run_id)
    end = await finished(host, run_id)
    waited = time.monotonic() - began
    assert got.read_text().startswith("INT")  # the stop signal reached it ...
    assert end.signal == "KILL"  # ... it ignored it, so the grace period ended in SIGKILL
    assert waited >= 1.0
    assert end.stop_requested and not end.succeeded


@hosted()
async def test_kill_reaches_every_process_of_the_run(host: LocalHost, tmp_path: Path) -> None:
    seen, ready = tmp_path / "seen", tmp_path / "ready"
    script = (
        f"(trap 'echo child >> {seen}' USR1; echo child >> {ready}; while :; do sleep 0.05; done) & "
        f"trap 'echo parent >> {seen}' USR1; echo parent >> {ready}; while :; do sleep 0.05; done"
    )
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, shell=script))
    await wait_until(lambda: ready.exists() and len(ready.read_text().split()) == 2,
                     "both processes to set their traps")
    await host.kill(run_id, "USR1")
    await wait_until(lambda: seen.exists() and sorted(seen.read_text().split()) == ["child", "parent"],
                     "both processes to get SIGUSR1")
    await host.kill(run_id, "SIGKILL")
    end = await finished(host, run_id)
    assert end.signal == "KILL"
    assert end.signals_sent == ("USR1", "KILL")
    assert not end.succeeded
