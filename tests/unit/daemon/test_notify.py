"""Notifier: the exact sd_notify datagrams, sent to a real AF_UNIX socket standing in for systemd's."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from apsisd.daemon.notify import Notifier


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket where systemd's notify socket would be, named by $NOTIFY_SOCKET."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    for name in ("WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[bytes]:
    """Every datagram sent so far (sd_notify's send has returned, so they are queued)."""
    found = []
    while True:
        try:
            found.append(sock.recv(4096))
        except BlockingIOError:
            return found


def test_ready_status_stopping(manager: socket.socket) -> None:
    notifier = Notifier()
    notifier.status("recovering runs in flight")
    notifier.ready("scheduling 3 jobs;\n2 runs in flight")
    notifier.stopping()
    assert received(manager) == [b"STATUS=recovering runs in flight",
                                 b"READY=1\nSTATUS=scheduling 3 jobs; 2 runs in flight",
                                 b"STOPPING=1\nSTATUS=stopping"]


def test_reloading_carries_the_monotonic_time(manager: socket.socket) -> None:
    before = time.monotonic_ns() // 1000
    Notifier().reloading()
    after = time.monotonic_ns() // 1000
    [message] = received(manager)
    reloading, monotonic, status = message.split(b"\n")
    assert (reloading, status) == (b"RELOADING=1", b"STATUS=reloading the jobs")
    assert monotonic.startswith(b"MONOTONIC_USEC=") and before <= int(monotonic.split(b"=")[1]) <= after


def test_nothing_is_sent_without_a_notify_socket(manager: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET")
    notifier = Notifier()
    notifier.ready("x")
    notifier.stopping()
    assert received(manager) == []


def test_a_lost_socket_is_logged_once(manager: socket.socket, monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/notify")
    notifier = Notifier()
    with caplog.at_level(logging.WARNING):
        notifier.status("a")
        notifier.status("b")
    assert [(record.getMessage(), record.__dict__["action"]) for record in caplog.records] == [
        ("cannot notify the service manager at $NOTIFY_SOCKET=/nonexistent/notify: No such file or directory; "
         "further failures are not logged", "notify_failed")]


def test_the_watchdog_is_pinged_at_half_its_interval(manager: socket.socket,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "40000")  # pings every 20 ms
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))

    async def scenario() -> tuple[list[bytes], float]:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(Notifier().watchdog(), name="watchdog")
        try:
            async with asyncio.timeout(5):
                pings = [await loop.sock_recv(manager, 4096)]
                start = loop.time()
                pings += [await loop.sock_recv(manager, 4096) for _ in range(3)]
                return pings, (loop.time() - start) / 3
        finally:
            task.cancel()

    pings, interval = asyncio.run(scenario())
    assert pings == [b"WATCHDOG=1"] * 4
    assert interval >= 0.015  # every 20 ms, never early (the 5 s deadline above bounds lateness)


@pytest.mark.parametrize("variables", [{}, {"WATCHDOG_USEC": "40000", "WATCHDOG_PID": "1"}])
def test_without_a_watchdog_for_this_process_it_only_waits(manager: socket.socket, monkeypatch: pytest.MonkeyPatch,
                                                           variables: dict[str, str]) -> None:
    for name, value in variables.items():  # $WATCHDOG_PID naming another process: that one pings, not this one
        monkeypatch.setenv(name, value)

    async def scenario() -> bool:
        task = asyncio.create_task(Notifier().watchdog(), name="watchdog")
        for _ in range(5):  # far enough for the first ping, which goes out before the first wait
            await asyncio.sleep(0)
        running = not task.done()
        task.cancel()
        async with asyncio.timeout(5):
            with pytest.raises(asyncio.CancelledError):
                await task
        return running

    assert asyncio.run(scenario()) is True
    assert received(manager) == []
