"""Runs started while systemd re-executes (Debian does on each upgrade of systemd): the bus answers NoReply or
ServiceUnknown for a start systemd may or may not have done. The host asks again; a unit made before is adopted
(UnitExists), so every run runs, and runs once."""
from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from tests.integration.conftest import finished, hosted, new_run_id

RUNS = 60


@hosted(timeout=120)
async def test_runs_started_across_a_reexec_each_run_once(host: LocalHost, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    run_ids = [new_run_id() for _ in range(RUNS)]

    async def start_all() -> None:
        starts = []
        for run_id in run_ids:  # spread over the re-exec, before, during and after
            starts.append(asyncio.create_task(host.start(
                RunSpec(run_id=run_id, shell=f'echo "$INVOCATION_ID" >> {marks}/{run_id}'))))
            await asyncio.sleep(0.02)
        await asyncio.gather(*starts)

    async def reexec() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(subprocess.run, ["systemctl", "daemon-reexec"], check=True)

    await asyncio.gather(start_all(), reexec())
    ends = [await finished(host, run_id) for run_id in run_ids]
    assert [end.result for end in ends] == ["success"] * RUNS
    assert [len((marks / run_id).read_text().split()) for run_id in run_ids] == [1] * RUNS


@hosted(timeout=120)
async def test_runs_armed_across_a_reexec_by_hosts_that_have_not_yet_read_the_manager_s_start(
        host: LocalHost, tmp_path: Path) -> None:
    """An armed run's timer counts from the manager's start, read once per host: that read, too, is asked again
    while systemd is away, and the run is armed, not failed."""
    hosts = [LocalHost(call_timeout=30) for _ in range(12)]
    run_ids = [new_run_id() for _ in hosts]

    async def arm(fresh: LocalHost, run_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        at = datetime.now(UTC) + timedelta(seconds=2)
        await fresh.start(RunSpec(run_id=run_id, shell="true"), at=at)

    async def reexec() -> None:
        await asyncio.to_thread(subprocess.run, ["systemctl", "daemon-reexec"], check=True)

    for fresh in hosts:
        await fresh.open()
    try:
        await asyncio.gather(reexec(), *(arm(fresh, run_id, 0.03 * i)
                                         for i, (fresh, run_id) in enumerate(zip(hosts, run_ids, strict=True))))
    finally:
        for fresh in hosts:
            await fresh.close()
    ends = [await finished(host, run_id) for run_id in run_ids]
    assert [end.result for end in ends] == ["success"] * len(hosts)
