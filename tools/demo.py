"""The demo: apsisd with the example jobs of etc/jobs for a while, then the runs it made; or, with `shell`, apsisd
in the background and a shell beside it to try the apsis command in; or, with `remote`, apsisd driving a second
host of the sandbox (its own systemd and sshd) through agentd over SSH.

State is kept in .demo/state under the checkout, so a second demo shows
catch-up: the runs missed in between are recorded (the newest of each job
started late, the others skipped, with why).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.store.base import RunQuery
from apsisd.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".demo" / "state"
APSISD = Path(sys.executable).parent / "apsisd"


def main() -> int:
    if sys.argv[1:] == ["shell"]:
        return shell()
    if sys.argv[1:] == ["remote"]:
        return remote()
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 40.0
    print(f"apsisd with the jobs in etc/jobs, state in {STATE.relative_to(ROOT)}, for {seconds:g} s:", flush=True)
    process = subprocess.Popen([str(APSISD), "--jobs", str(ROOT / "etc" / "jobs"), "--state", str(STATE)])
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGTERM)
        process.wait()
    print(f"\napsisd exited with status {process.returncode}. The last runs that came due:")
    runs, ahead = asyncio.run(_last_runs(20))
    for run in sorted(runs, key=lambda run: (run.schedule_time, int(run.id[1:]))):
        print(_line(run))
    print(f"  ... and {ahead} runs scheduled ahead (up to each job's horizon)")
    if runs:
        print(f"\neach run's output is in the journal: journalctl APSIS_RUN_ID={runs[0].id}")
    return process.returncode or 0


def shell() -> int:
    """apsisd in the background, and an interactive shell with .venv/bin on its PATH; apsisd stops with the shell."""
    print(f"apsisd with the jobs in etc/jobs, state in {STATE.relative_to(ROOT)}, in the background; try\n"
          "  apsis status; apsis runs; apsis run demo/hello --wait; apsis watch; apsis output -f RUN;\n"
          "  journalctl APSIS_RUN_ID=RUN\nand leave the shell (exit) to stop it.", flush=True)
    log = (STATE.parent / "apsisd.log").open("ab")
    process = subprocess.Popen([str(APSISD), "--jobs", str(ROOT / "etc" / "jobs"), "--state", str(STATE)],
                               stdout=log, stderr=log)
    env = {**os.environ, "PATH": f"{APSISD.parent}:{os.environ.get('PATH', '')}", "PS1": "(apsis demo) \\$ "}
    try:
        return subprocess.run(["bash", "--norc", "-i"], env=env, check=False).returncode
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait()
        log.close()
        print(f"apsisd stopped; its log is in {(STATE.parent / 'apsisd.log').relative_to(ROOT)}")


def remote() -> int:
    """apsisd with one job on the sandbox's peer host: `apsis hosts`, a run there by hand, and its output."""
    peer = json.loads(Path(os.environ["APSIS_SANDBOX_HOSTS"]).read_text())["hosts"][0]
    folder = ROOT / ".demo" / "remote"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "jobs").mkdir(parents=True)
    (folder / "apsisd.toml").write_text(textwrap.dedent(f"""\
        [ssh]
        known_hosts = "{peer['known_hosts']}"
        [hosts.{peer['name']}]
        ssh = "root@{peer['address']}"
        identity = "{peer['apsis_key']}"
        """))
    (folder / "jobs" / "where.yaml").write_text(
        f'schedule: {{type: interval, interval: 5s}}\nprogram: "echo on $(hostname) as $(id -un)"\n'
        f"host: {peer['name']}\n")
    log = (folder / "apsisd.log").open("ab")
    process = subprocess.Popen([str(APSISD), "--jobs", str(folder / "jobs"), "--state", str(folder / "state"),
                                "--config", str(folder / "apsisd.toml")], stdout=log, stderr=log)
    env = {**os.environ, "PATH": f"{APSISD.parent}:{os.environ.get('PATH', '')}"}
    try:
        time.sleep(3)
        for command in (["apsis", "hosts"], ["apsis", "run", "--host", peer["name"], "--wait", "--", "hostname"],
                        ["apsis", "runs", "-n", "4"]):
            print(f"$ {' '.join(command)}", flush=True)
            subprocess.run(command, env=env, check=False)
        return 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait()
        log.close()


async def _last_runs(count: int) -> tuple[list[Run], int]:
    store = await SqliteStore.open(STATE / "apsis.db")
    try:
        came = await store.runs(RunQuery(states=frozenset(State) - {State.SCHEDULED}, limit=count))
        ahead = await store.runs(RunQuery(states=frozenset({State.SCHEDULED}), limit=100_000))
        return came, len(ahead)
    finally:
        await store.close()


def _line(run: Run) -> str:
    late = f"{run.lateness * 1000:6.1f} ms late" if run.lateness is not None else " " * 14
    return (f"  {run.id:>6}  {run.job_id:<22} {run.state:<9} due {run.schedule_time:%H:%M:%S}  {late}  "
            f"{run.origin:<8} {run.reason}")


if __name__ == "__main__":
    sys.exit(main())
