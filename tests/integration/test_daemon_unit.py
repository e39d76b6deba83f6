"""apsisd under systemd, from the unit file we ship: READY, STATUS, watchdog, reload, and a stop that leaves
the runs running for the next apsisd to adopt."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from apsisd.runs.state import State
from apsisd.store.base import RunQuery
from apsisd.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
UNIT = "apsisd-under-test.service"


def systemctl(*args: str) -> str:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False).stdout.strip()


def start() -> None:
    proc = subprocess.run(["systemctl", "start", UNIT], capture_output=True, text=True, timeout=60)
    if proc.returncode:
        journal = subprocess.run(["journalctl", "-u", UNIT, "--no-pager", "-n", "50"], capture_output=True, text=True)
        raise AssertionError(f"{UNIT} did not start: {proc.stderr}\n{journal.stdout}")


def install_unit(tmp_path: Path) -> tuple[Path, Path]:
    """The shipped unit with ExecStart pointing at this checkout's apsisd and folders under tmp_path."""
    jobs, state = tmp_path / "jobs", tmp_path / "state"
    jobs.mkdir()
    text = (ROOT / "units" / "apsisd.service").read_text()
    apsisd = Path(sys.executable).parent / "apsisd"
    text = text.replace("ExecStart=/usr/bin/apsisd", f"ExecStart={apsisd} --jobs {jobs} --state {state}")
    # Its state goes under tmp_path, and /etc is read-only in the sandbox (and not ours to touch in a test).
    text = "\n".join(line for line in text.splitlines()
                     if not line.startswith(("StateDirectory", "ConfigurationDirectory", "Documentation")))
    Path(f"/run/systemd/system/{UNIT}").write_text(text + "\n")
    systemctl("daemon-reload")
    return jobs, state


def test_the_shipped_unit_runs_apsisd_and_a_stop_leaves_runs_running(tmp_path: Path) -> None:
    jobs, state = install_unit(tmp_path)
    try:
        start()  # returns once READY=1 came
        assert systemctl("is-active", UNIT) == "active"
        assert "jobs" in systemctl("show", "-p", "StatusText", "--value", UNIT)
        assert systemctl("show", "-p", "WatchdogUSec", "--value", UNIT) == "30s"
        # A job added while apsisd runs, taken in by `systemctl reload` (SIGHUP).
        (jobs / "now.yaml").write_text("params: [n]\nschedule: {type: interval, interval: 1s, args: {n: x}}\n"
                                       "program: 'sleep 4; exit 5'\nscheduling: {max_scheduled: 1}\n")
        subprocess.run(["systemctl", "reload", UNIT], check=True, timeout=30)
        asyncio.run(_then_stop_and_adopt(state))
    finally:
        systemctl("stop", UNIT)
        Path(f"/run/systemd/system/{UNIT}").unlink()
        systemctl("daemon-reload")
        systemctl("stop", "apsis-*.service")


async def _then_stop_and_adopt(state: Path) -> None:
    store = await SqliteStore.open(state / "apsis.db")
    try:
        async def running() -> list[str]:
            return [run.id for run in await store.runs(RunQuery(job_id="now", states=frozenset({State.RUNNING})))]

        found: list[str] = []
        async with asyncio.timeout(30):
            while not (found := await running()):
                await asyncio.sleep(0.05)
        run_id = found[0]
        subprocess.run(["systemctl", "stop", UNIT], check=True, timeout=60)
        assert systemctl("is-active", f"apsis-{run_id}.service") == "active"  # the run outlives apsisd
        start()
        async with asyncio.timeout(30):
            while not (run := await store.get(run_id)).finished:  # type: ignore[arg-type]
                await asyncio.sleep(0.05)
        assert (run.state, run.exit_code) == (State.FAILURE, 5)  # its real outcome, read after the restart
    finally:
        await store.close()
