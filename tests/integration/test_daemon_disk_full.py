"""A full disk under the state folder: apsisd acts on nothing it cannot record, says it is degraded, and goes on by
itself when there is room again, its memory and its store in step (no run lost, none run twice).

The state folder is a small tmpfs mounted by the test (the sandbox has its own mount namespace: the host's mounts
are not touched), filled with a file until SQLite fails with SQLITE_FULL, then freed.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apsisd.runs.model import Run
from apsisd.runs.state import State
from tests.integration.api import get, post
from tests.integration.conftest import wait_until
from tests.integration.daemon import Daemon, with_daemon


@contextlib.asynccontextmanager
async def small_disk(folder: Path, size: str) -> AsyncIterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0750", "tmpfs", str(folder)], check=True,
                   timeout=30)
    try:
        yield
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True, timeout=30)


def fill(folder: Path) -> Path:
    """A file that takes every free block of `folder`'s file system."""
    filler = folder / "filler"
    with filler.open("wb") as file:
        try:
            while True:
                file.write(b"\0" * 65536)
                file.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def pending(daemon: Daemon, signum: int) -> bool:
    """Whether `signum` was sent to apsisd and not yet taken in: the kernel keeps one pending signal of each
    number, so a second sent meanwhile would be lost in the first."""
    assert daemon.process is not None
    status = Path(f"/proc/{daemon.process.pid}/status").read_text()
    (shared,) = [line.split()[1] for line in status.splitlines() if line.startswith("ShdPnd:")]
    return bool(int(shared, 16) >> (signum - 1) & 1)


async def health(until: int, timeout: float = 60.0) -> dict[str, Any]:
    """GET /api/v1/health polled until it answers with the status `until`; its body then."""
    async with asyncio.timeout(timeout):
        while True:
            status, body = await get("/api/v1/health")
            if status == until:
                return dict(body)
            await asyncio.sleep(0.2)


@with_daemon(timeout=240)
async def test_a_full_disk_stops_nothing_but_what_cannot_be_recorded(daemon: Daemon) -> None:
    ran = daemon.root / "ran"  # each run's id, written by the run itself: what systemd really started
    daemon.job("tick", f"""
        schedule: {{type: interval, interval: 1s}}
        program: {{type: shell, command: 'echo "$APSIS_RUN_ID" >> {ran}'}}
    """)
    async with small_disk(daemon.state, "4m"):
        try:
            await daemon.start()
            await daemon.wait_runs(lambda runs: sum(r.state is State.SUCCESS for r in runs) >= 2, "tick")
            filler = fill(daemon.state)
            body = await health(503)
            assert body["status"] == "degraded" and body["scheduling"] is True
            assert "database or disk is full" in body["problem"], body
            status, refused = await post("/api/v1/runs", {"job_id": "tick"})
            assert status == 503 and "nothing was changed" in refused["error"], refused
            daemon.job("more", 'program: "true"\n')  # a reload that changes something: refused while full
            daemon.signal(signal.SIGHUP)
            await daemon.wait_log("reload (SIGHUP): not recorded")
            for _ in range(3):  # SIGHUPs while the first one's reload waits for the store: one more, not three
                daemon.signal(signal.SIGHUP)
                await wait_until(lambda: not pending(daemon, signal.SIGHUP), "apsisd to take the SIGHUP in")
            await asyncio.sleep(3)  # runs come due meanwhile: none may start unrecorded
            stored = {run.id: run for run in await daemon.runs("tick")}
            started = ran.read_text().split()
            assert all(stored[run_id].state in (State.STARTING, State.RUNNING, State.SUCCESS) for run_id in started)
            refused = [run.id for run in stored.values() if run.state is State.SCHEDULED and run.id not in started
                       and run.schedule_time < datetime.now(UTC) - timedelta(seconds=1)]
            assert refused  # due while the disk was full: not started, as not recorded starting
            filler.unlink()
            assert (await health(200))["status"] == "ok"
            count = len(started)

            def caught_up(runs: list[Run]) -> bool:
                succeeded = {run.id for run in runs if run.state is State.SUCCESS}
                return succeeded >= set(refused) and len(succeeded) >= count + len(refused) + 2

            await daemon.wait_runs(caught_up, "tick", "the refused runs started late, and the next on time")
            await daemon.wait_log("(SIGHUP): no change")
            sighup_reloads = [line for line in daemon.log().splitlines()
                              if "reloaded (SIGHUP)" in line or "reload (SIGHUP): no change" in line]
            assert len(sighup_reloads) == 2, sighup_reloads
            assert await daemon.stop() == 0
            assert "the state can be written again" in daemon.log()
            started = ran.read_text().split()
            stored = {run.id: run for run in await daemon.runs("tick")}
            assert Counter(started).most_common(1)[0][1] == 1  # none ran twice
            live = (State.STARTING, State.RUNNING)  # the last may still run: apsisd stopped, not its runs
            assert all(stored[run_id].state in (State.SUCCESS, *live) for run_id in started)  # each one recorded
            assert {run_id for run_id, run in stored.items() if run.state is State.SUCCESS} <= set(started)
            assert all(run.state in (State.SCHEDULED, State.SUCCESS, *live) for run in stored.values())  # none lost
        finally:
            await daemon.close()
