"""apsisd as a real process, for end-to-end tests: its jobs folder, its state, its readiness and its death.

Readiness is what systemd would see: the test binds a NOTIFY_SOCKET and
waits for READY=1. The runs are read from apsisd's own database, through
the store, while it runs (WAL lets a reader in beside the writer).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import itertools
import os
import resource
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentd.types import RunId
from apsisd.runs.model import LogEntry, Run
from apsisd.runs.state import State
from apsisd.store.base import Changes, RunQuery
from apsisd.store.sqlite import SqliteStore

APSISD = str(Path(sys.executable).parent / "apsisd")
FIRST_RUN_NUMBERS = itertools.count(10_000, 10_000)


class Daemon:
    """One apsisd with its folders under `root`; start() and stop it as often as a test needs."""

    def __init__(self, root: Path, first_run: int | None = None) -> None:
        """`first_run`: where its run numbers start (default: apart from every Daemon before in this process)."""
        self.root = root
        self.first_run = first_run
        self.jobs = root / "jobs"
        self.state = root / "state"
        self.jobs.mkdir(parents=True, exist_ok=True)
        self.log_file = root / "apsisd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._notify: socket.socket | None = None
        self.messages: list[str] = []
        self.store: SqliteStore | None = None

    def job(self, job_id: str, text: str) -> None:
        path = self.jobs / f"{job_id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))

    def remove_job(self, job_id: str) -> None:
        (self.jobs / f"{job_id}.yaml").unlink()

    def config(self, text: str) -> tuple[str, str]:
        """An apsisd.toml beside the folders; the arguments that make start() use it."""
        path = self.root / "apsisd.toml"
        path.write_text(textwrap.dedent(text))
        return "--config", str(path)

    async def start(self, *args: str, ready: bool = True, timeout: float = 30.0,
                    files: tuple[int, int] | None = None) -> None:
        """apsisd started with `args` (and, given `files`, that soft and hard limit of open files)."""
        assert self.process is None or self.process.poll() is not None, "apsisd is already running"
        if self.store is None:
            self.store = await SqliteStore.open(self.state / "apsis.db")
            # apsisd names units after run ids, and the sandbox's journal keeps the units of the tests before:
            # each Daemon's runs are numbered apart, as a host's one database never gives a number twice.
            self.store.new_ids(self.first_run if self.first_run is not None else next(FIRST_RUN_NUMBERS))
            await self.store.commit(Changes())
        address = self.root / f"notify-{len(self.messages)}.sock"
        address.unlink(missing_ok=True)  # an apsisd that stopped before it said anything leaves the same name
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(str(address))
        self._notify.setblocking(False)
        env = {**os.environ, "NOTIFY_SOCKET": str(address), "PYTHONUNBUFFERED": "1"}
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [APSISD, "--jobs", str(self.jobs), "--state", str(self.state), "--log-level", "debug", *args],
                stdout=log, stderr=log, env=env,
                preexec_fn=None if files is None else functools.partial(resource.setrlimit, resource.RLIMIT_NOFILE,
                                                                        files))
        if ready:
            await self.wait_for_message("READY=1", timeout, since=len(self.messages))

    async def wait_for_message(self, text: str, timeout: float = 30.0, since: int = 0) -> None:
        """Until apsisd has sent `text` as one line of a notification (from its `since`-th message on)."""
        assert self._notify is not None
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while not any(text in message.split("\n") for message in self.messages[since:]):
                if self.process is not None and self.process.poll() is not None:
                    raise AssertionError(f"apsisd exited with {self.process.returncode}:\n{self.log()}")
                try:
                    data = await asyncio.wait_for(loop.sock_recv(self._notify, 4096), 0.2)
                except TimeoutError:
                    continue
                self.messages.append(data.decode())

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    async def wait_log(self, text: str, count: int = 1, timeout: float = 30.0) -> None:
        """Until apsisd's log holds `text` `count` times (over every start)."""
        try:
            async with asyncio.timeout(timeout):
                while self.log().count(text) < count:
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {count} x {text!r} in the log"
                                 f"\n--- apsisd log ---\n{self.log()[-6000:]}") from None

    async def entries(self, run_id: str) -> list[LogEntry]:
        """The run's log, oldest first."""
        assert self.store is not None
        return await self.store.log(RunId(run_id))

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def kill(self) -> None:
        """kill -9: what a crash looks like."""
        self.signal(signal.SIGKILL)
        await self.wait_exit()

    async def stop(self) -> int:
        """SIGTERM, and the exit code."""
        self.signal(signal.SIGTERM)
        return await self.wait_exit()

    async def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        async with asyncio.timeout(timeout):
            while (code := self.process.poll()) is None:
                await asyncio.sleep(0.02)
        if self._notify is not None:
            with contextlib.suppress(BlockingIOError):  # what it said last (STOPPING=1) is kept too
                while True:
                    self.messages.append(self._notify.recv(4096).decode())
            self._notify.close()
            self._notify = None
        return code

    async def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            await self.kill()
        if self.store is not None:
            await self.store.close()
            self.store = None
        subprocess.run(["systemctl", "stop", "apsis-*.service"], check=False, capture_output=True)
        subprocess.run(["systemctl", "reset-failed", "apsis-*.service"], check=False, capture_output=True)

    async def runs(self, job_id: str | None = None) -> list[Run]:
        """Every run (of the job), oldest first."""
        assert self.store is not None
        return sorted(await self.store.runs(RunQuery(job_id=job_id, limit=100_000)), key=lambda r: int(r.id[1:]))

    async def wait_runs(self, check: Callable[[list[Run]], bool], job_id: str | None = None, what: str = "",
                        timeout: float = 30.0, poll: float = 0.05) -> list[Run]:
        """Poll the runs (every `poll` seconds) until `check` holds; the runs then."""
        runs: list[Run] = []
        try:
            async with asyncio.timeout(timeout):
                while not check(runs := await self.runs(job_id)):
                    await asyncio.sleep(poll)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what or check}: {[(r.id, r.state, r.reason) for r in runs]}"
                                 f"\n--- apsisd log ---\n{self.log()[-6000:]}") from None
        return runs


def states(runs: list[Run]) -> list[State]:
    return [run.state for run in runs]


def finished(count: int) -> Callable[[list[Run]], bool]:
    return lambda runs: len(runs) >= count and all(run.finished for run in runs[:count])


def with_daemon(timeout: float = 120.0) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., None]]:
    """Run an async test with a Daemon (not started) in tmp_path, always cleaned up, under a deadline."""

    def decorate(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
        @functools.wraps(test)
        def wrapper(tmp_path: Path, **kwargs: Any) -> None:
            async def main() -> None:
                daemon = Daemon(tmp_path)
                try:
                    async with asyncio.timeout(timeout):
                        await test(daemon=daemon, **kwargs)
                finally:
                    await daemon.close()

            asyncio.run(main())

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)  # after tmp_path, which is keyword-only
                  for name, p in inspect.signature(test).parameters.items() if name != "daemon"]
        tmp = inspect.Parameter("tmp_path", inspect.Parameter.KEYWORD_ONLY, annotation=Path)
        wrapper.__signature__ = inspect.Signature([tmp, *params])  # type: ignore[attr-defined]
        return wrapper

    return decorate


def soon(seconds: float) -> str:
    """An instant `seconds` from now, as a job file writes it."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def explicit(*times: datetime) -> str:
    """An explicit schedule at these instants, in a job file's flow style."""
    return "{type: explicit, times: [" + ", ".join(f'"{time.isoformat()}"' for time in times) + "]}"
