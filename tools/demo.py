"""The demo: apsisd with the example jobs of etc/jobs for a while, then the runs it made; or, with `shell`, apsisd
in the background and a shell beside it to try the apsis command in; or, with `remote`, apsisd driving a second
host of the sandbox (its own systemd and sshd) through agentd over SSH; or, with `web`, apsisd serving its web
page to this machine's browser at http://127.0.0.1:8080/ (tools/demo forwards the port out of the sandbox).

State is kept in .demo/state under the checkout (or under $APSIS_DEMO_DIR:
the tests' own folder), so a second demo shows catch-up: the runs missed in
between are recorded (the newest of each job started late, the others
skipped, with why).
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
import urllib.error
import urllib.request
from pathlib import Path

from apsisd.rights import Right
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.store.base import RunQuery
from apsisd.store.sqlite import SqliteStore
from apsisd.tokens_file import new_token, token_line

ROOT = Path(__file__).resolve().parents[1]
DEMO = Path(os.environ.get("APSIS_DEMO_DIR") or ROOT / ".demo")
STATE = DEMO / "state"
APSISD = Path(sys.executable).parent / "apsisd"
# The web demo's ports: the browser's, on this machine, and apsisd's inside the sandbox, which tools/demo
# forwards there (tools/sandbox.py --forward). Without a sandbox (systemd is PID 1 here) apsisd listens on
# the browser's port itself, so the address to open is the same.
WEB_PORT = 8080
INNER_PORT = 5050
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def main() -> int:
    if sys.argv[1:] == ["shell"]:
        return shell()
    if sys.argv[1:] == ["remote"]:
        return remote()
    if sys.argv[1:2] == ["web"]:
        return web(float(sys.argv[2]) if len(sys.argv) > 2 else None)
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 40.0
    print(f"apsisd with the jobs in etc/jobs, state in {_shown(STATE)}, for {seconds:g} s:", flush=True)
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
    print(f"apsisd with the jobs in etc/jobs, state in {_shown(STATE)}, in the background; try\n"
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
        print(f"apsisd stopped; its log is in {_shown(STATE.parent / 'apsisd.log')}")


def remote() -> int:
    """apsisd with one job on the sandbox's peer host: `apsis hosts`, a run there by hand, and its output."""
    peer = json.loads(Path(os.environ["APSIS_SANDBOX_HOSTS"]).read_text())["hosts"][0]
    folder = DEMO / "remote"
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


def web(seconds: float | None) -> int:
    """apsisd with the example jobs, its API and web page on TCP with an admin token made for the demo, until
    Ctrl-C (or for `seconds`), then stopped as systemd would stop it (SIGTERM)."""
    # tools/demo starts the harness with Ctrl-C ignored, so that it waits for this clean stop rather than
    # tearing the sandbox down under it: Ctrl-C is this process's (and apsisd's) to handle.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    folder = DEMO / "web"
    folder.mkdir(parents=True, exist_ok=True)
    token = new_token()
    tokens = folder / "tokens"
    tokens.unlink(missing_ok=True)
    # apsisd refuses a tokens file others may write; only hashes are in it, but it is the demo's alone.
    tokens.touch(mode=0o600)
    tokens.write_text(f"# made by tools/demo web, new each time\n{token_line('demo', Right.ADMIN, token)}\n")
    port = INNER_PORT if os.environ.get("APSIS_SANDBOX") else WEB_PORT
    config = folder / "apsisd.toml"
    config.write_text(textwrap.dedent(f"""\
        [api]
        listen = ["unix:/run/apsis/api.sock", "tcp:127.0.0.1:{port}"]
        tokens = "{tokens}"
        """))
    log = (folder / "apsisd.log").open("ab")
    # A process group of its own: a terminal's Ctrl-C reaches this process only, which stops apsisd with
    # one SIGTERM (a second signal could find apsisd past its handlers, and end it by default).
    process = subprocess.Popen([str(APSISD), "--jobs", str(ROOT / "etc" / "jobs"), "--state", str(STATE),
                                "--config", str(config)], stdout=log, stderr=log, process_group=0)
    try:
        _wait_healthy(process, f"http://127.0.0.1:{port}/api/v1/health", token)
        url = f"http://127.0.0.1:{WEB_PORT}/"
        print(textwrap.dedent(f"""\
            apsisd runs the jobs in etc/jobs, state in {_shown(STATE)}, log in {_shown(folder / 'apsisd.log')}.
            Its web page, for a browser on this machine:

              {url}

            Sign in there with this token (an admin's, made for this demo, new each time):

              {token}

            The API takes it too: curl -H 'Authorization: Bearer {token}' {url}api/v1/health
            """) + (f"Stopping in {seconds:g} s." if seconds is not None else "Ctrl-C stops it."), flush=True)
        process.wait(timeout=seconds)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        pass
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        _stop(process)
        return 1
    finally:
        status = _stop(process)  # at once if it was stopped already
        log.close()
    print(f"\napsisd stopped (exit status {status}).", flush=True)
    return status


def _wait_healthy(process: subprocess.Popen[bytes], url: str, token: str) -> None:
    """Until apsisd answers its health over TCP with the token; RuntimeError if it ends or takes too long."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"apsisd exited with status {process.returncode} before it served (its log says why)")
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"apsisd did not answer {url} in {READY_TIMEOUT:g} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, and wait for apsisd to stop; a second Ctrl-C (or a stop that takes too long) kills it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        process.kill()
        return process.wait()


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


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
