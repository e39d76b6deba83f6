"""The hosts the contract suite proves, and the one thing that differs between them: how a test's program acts.

Each test of test_host.py is written once, against the Host protocol, and runs
against every entry of IMPLEMENTATIONS (LocalHost; RemoteHost through agentd
on this machine, and over SSH on a peer host of the sandbox; FakeHost). An entry opens a host and gives a
Driver: a program that prints given lines then exits with a code, or waits
until the test tells it to exit. On LocalHost that is a shell program (it
waits for a file); on FakeHost the driver plays it through the fake's methods.
A new host joins by adding one entry. The suite runs inside the sandbox (as
tests/integration does), where LocalHost has a systemd of its own.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest

from agentd.host import Host
from agentd.local.host import LocalHost
from agentd.remote.host import RemoteHost
from agentd.remote.link import Link, ProcessLink
from agentd.remote.ssh import ssh_argv
from agentd.spec import RunSpec, Stream
from agentd.systemd import journal
from agentd.types import RunId
from tests.fakes.host import FakeHost
from tests.needs_systemd import refuse_without_systemd
from tests.sandbox_hosts import SandboxPeer, on_peer, peers

Prints = Sequence[tuple[Stream, bytes]]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Host suite is refused without a systemd (LocalHost needs one); test_store.py beside it is pure, and
    runs on the host with the unit tests."""
    if any(item.path.name == "test_host.py" for item in items):
        refuse_without_systemd("tests/contract/test_host.py")


class Driver(Protocol):
    def program(self, run_id: RunId, *, prints: Prints = (), exit_code: int | None = 0,
                split: bool = False) -> RunSpec:
        """The spec of a program that writes `prints` in order, then exits with `exit_code`, or (None) waits
        until exit() says so."""
        ...

    async def exit(self, run_id: RunId, code: int) -> None:
        """The waiting program exits with `code`."""
        ...

    async def settle(self) -> None:
        """All the host will keep of what has happened so far is kept (a journal's records are stored)."""
        ...


def _octal(data: bytes) -> str:
    """`data` as printf's format, every byte an octal escape: exact, whatever the bytes."""
    return "".join(f"\\{byte:03o}" for byte in data)


class ShellPrograms:
    """LocalHost's programs: /bin/sh, exact bytes through printf's octal escapes; a waiting one polls a file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def program(self, run_id: RunId, *, prints: Prints = (), exit_code: int | None = 0,
                split: bool = False) -> RunSpec:
        steps = [f"printf '{_octal(data)}'{' >&2' if stream is Stream.STDERR else ''}" for stream, data in prints]
        gate = self.folder / f"{run_id}.exit"
        steps.append(f"exit {exit_code}" if exit_code is not None else
                     f'while [ ! -e {gate} ]; do sleep 0.02; done; exit "$(cat {gate})"')
        return RunSpec(run_id=run_id, shell="; ".join(steps), split_output=split, grace_period=5)

    async def exit(self, run_id: RunId, code: int) -> None:
        gate = self.folder / f"{run_id}.exit"
        gate.with_suffix(".new").write_text(str(code))
        os.replace(gate.with_suffix(".new"), gate)

    async def settle(self) -> None:
        await journal.sync()


class PlayedPrograms:
    """FakeHost's programs: played by the driver as each starts."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host
        self.plays: dict[RunId, tuple[Prints, int | None]] = {}
        host.on_start = self._play

    def program(self, run_id: RunId, *, prints: Prints = (), exit_code: int | None = 0,
                split: bool = False) -> RunSpec:
        self.plays[run_id] = (prints, exit_code)
        return RunSpec(run_id=run_id, argv=("/usr/bin/program",), split_output=split)

    def _play(self, run_id: RunId) -> None:
        prints, exit_code = self.plays[run_id]
        for stream, data in prints:
            self.host.write(run_id, data, stream=stream)
        if exit_code is not None:
            self.host.finish(run_id, exit_code=exit_code)

    async def exit(self, run_id: RunId, code: int) -> None:
        self.host.finish(run_id, exit_code=code)

    async def settle(self) -> None:
        return None


@asynccontextmanager
async def local(folder: Path) -> AsyncIterator[tuple[Host, Driver]]:
    async with LocalHost(call_timeout=10) as host:
        yield host, ShellPrograms(folder)


@asynccontextmanager
async def remote(folder: Path) -> AsyncIterator[tuple[Host, Driver]]:
    """agentd serving this machine's systemd, reached through its stdio as SSH would give it."""
    async def connect() -> Link:
        return await ProcessLink.spawn([sys.executable, "-m", "agentd", "serve", "--stdio"], "agentd")

    async with RemoteHost("here", connect, scheduler="contract", call_timeout=10) as host:
        yield host, ShellPrograms(folder)


class PeerPrograms(ShellPrograms):
    """A sandbox peer's programs: the same shell programs (the checkout, where the test folder is, is shared by
    every sandbox), its own journal to settle."""

    def __init__(self, folder: Path, peer: SandboxPeer) -> None:
        super().__init__(folder)
        self.peer = peer

    async def settle(self) -> None:
        done = await asyncio.to_thread(on_peer, self.peer, ["journalctl", "--sync"])
        assert done.returncode == 0, done.stderr


@asynccontextmanager
async def ssh(folder: Path) -> AsyncIterator[tuple[Host, Driver]]:
    """agentd on a peer host of the sandbox, over OpenSSH with apsis's key (tests/sandbox_hosts.py)."""
    peer = peers()[0]

    async def connect() -> Link:
        return await ProcessLink.spawn(ssh_argv(peer.target()), peer.name)

    async with RemoteHost(peer.name, connect, scheduler="contract", call_timeout=10) as host:
        yield host, PeerPrograms(folder, peer)


@asynccontextmanager
async def fake(folder: Path) -> AsyncIterator[tuple[Host, Driver]]:
    host = FakeHost()
    yield host, PlayedPrograms(host)


IMPLEMENTATIONS: dict[str, Callable[[Path], AbstractAsyncContextManager[tuple[Host, Driver]]]] = {
    "local": local,
    "remote": remote,
    "ssh": ssh,
    "fake": fake,
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def implementation(request: pytest.FixtureRequest) -> Callable[[Path], AbstractAsyncContextManager[Any]]:
    return IMPLEMENTATIONS[request.param]


def contract(timeout: float = 60.0) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., None]]:
    """Run an async test once per implementation, with its `host` and `driver`, all under a deadline."""

    def decorate(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
        signature = inspect.signature(test)
        params = [p for name, p in signature.parameters.items() if name not in ("host", "driver")]
        given = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                 for name in ("implementation", "tmp_path")]

        @functools.wraps(test)
        def wrapper(implementation: Callable[[Path], AbstractAsyncContextManager[Any]], tmp_path: Path,
                    **kwargs: Any) -> None:
            async def main() -> None:
                async with asyncio.timeout(timeout), implementation(tmp_path) as (host, driver):
                    await test(host=host, driver=driver, **kwargs)

            asyncio.run(main())

        wrapper.__signature__ = signature.replace(parameters=[*given, *params])  # type: ignore[attr-defined]
        return wrapper

    return decorate


def new_run_id() -> RunId:
    return RunId(f"c{uuid.uuid4().hex[:12]}")


async def eventually(condition: Callable[[], bool | Awaitable[bool]], what: str, *, until: bool = True,
                     within: float = 20.0) -> None:
    """Wait until `condition` (a function, or a coroutine function) is `until`, polling; fail naming `what` if
    it is not within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = condition()
                if (await value if inspect.isawaitable(value) else value) is until:
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {within} s: {what}") from None
