"""Hundreds of runs at once: systemd spends a bus match rule per queued job and per pinned unit, and the bus
allows it 512; past that it drops off the bus and forgets its subscribers. The host stays under it."""
from __future__ import annotations

import asyncio
import subprocess

from agentd.local.budget import MAX_PINNED
from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from tests.integration.conftest import finished, hosted, new_run_id

RUNS = 700


# Each bus call under LocalHost's own default (30 s), as apsisd makes it: 700 starts at once wait in systemd's
# queue, and on 2 loaded cores one waited past the 10 s the other tests' calls are given.
@hosted(timeout=240, call_timeout=30.0)
async def test_seven_hundred_runs_started_at_once_all_run_and_end(host: LocalHost) -> None:
    since = subprocess.run(["date", "+%Y-%m-%d %H:%M:%S"], capture_output=True, text=True, check=True).stdout.strip()
    run_ids = [new_run_id() for _ in range(RUNS)]
    await asyncio.gather(*(host.start(RunSpec(run_id=run_id, shell=f"sleep 4; exit {i % 3}"))
                           for i, run_id in enumerate(run_ids)))
    ends = await asyncio.gather(*(finished(host, run_id) for run_id in run_ids))
    assert [end.exit_code for end in ends] == [i % 3 for i in range(RUNS)]
    assert sum(end.cpu_time_ns is not None for end in ends) >= MAX_PINNED  # the pinned ones' CPU time is read
    journal = subprocess.run(["journalctl", "--no-pager", "-o", "cat", "--since", since, "-u", "dbus.service"],
                             capture_output=True, text=True, check=False).stdout
    assert "not allowed to add more match rules" not in journal
