"""No caller can take the API down: a user's connections over their cap are turned away at accept, idle and slow
connections are closed, streams are capped; root's `apsis` gets through all along, and apsisd's log says so in a
few lines, not thousands. apsisd, as a real process, called by user nobody."""
from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import time
from contextlib import AsyncExitStack
from typing import Any

import aiohttp

from apsisd.rights import Right
from apsisd.tokens_file import new_token
from tests.integration.api import SOCKET, get, post
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.test_api_access import free_port, tokens_file

NOBODY = 65534
# User nobody's client, with the system's python (nobody may not read the checkout's virtualenv), stdlib only:
# argv[2] connections to the socket argv[1] (within 30 s), sending nothing; "connected N" once they are made;
# then, at a line on stdin (seconds to wait for apsisd to close them), what became of each: still open, or closed
# by apsisd with the status of the answer it wrote first.
HOLDER = """
import json, select, socket, sys, time
held = []
deadline = time.monotonic() + 30  # apsisd's listen queue full (EAGAIN): tried again until then
while len(held) < int(sys.argv[2]) and time.monotonic() < deadline:
    sock = socket.socket(socket.AF_UNIX)
    sock.setblocking(False)
    try:
        sock.connect(sys.argv[1])
    except BlockingIOError:
        sock.close()
        time.sleep(0.01)
        continue
    held.append(sock)
print("connected", len(held), flush=True)
until = time.monotonic() + float(sys.stdin.readline())
fate = {}
for sock in held:
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    if not poll.poll(max(0, until - time.monotonic()) * 1000):
        what = "open"
    else:
        try:
            data = sock.recv(4096)
        except OSError as exc:
            data = str(exc).encode()
        what = data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.1 ") else "closed"
    fate[what] = fate.get(what, 0) + 1
print(json.dumps(fate), flush=True)
"""


def as_nobody() -> None:
    """In the child, before exec: room for thousands of connections, then user nobody."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


class Holder:
    """User nobody's process holding `count` connections to the socket."""

    def __init__(self, count: int) -> None:
        self.proc = subprocess.Popen(["/usr/bin/python3", "-c", HOLDER, SOCKET, str(count)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd="/", preexec_fn=as_nobody)

    async def connected(self) -> int:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 120)
        assert line.startswith("connected "), line
        return int(line.split()[1])

    async def fate(self, wait: float) -> dict[str, int]:
        """What became of each connection after `wait` seconds at most: {"open": n, "403": n, ...}."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{wait}\n")
        self.proc.stdin.flush()
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 60)
        result: dict[str, int] = json.loads(line)
        return result

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


async def root_gets_health(daemon: Daemon) -> float:
    """Seconds root's GET /api/v1/health took (it must answer 200 within 5 s)."""
    started = time.monotonic()
    try:
        status, body = await asyncio.wait_for(get("/api/v1/health"), 5)
    except TimeoutError:
        raise AssertionError(f"root's GET did not answer in 5 s\n--- apsisd log ---\n{daemon.log()[-3000:]}") from None
    assert status == 200, body
    return time.monotonic() - started


def accept_failures(log: str) -> int:
    return sum("out of system resource" in line or "cannot accept connections" in line for line in log.splitlines())


@with_daemon(timeout=240)
async def test_nobody_holding_2000_connections_neither_starves_root_nor_floods_the_log(daemon: Daemon) -> None:
    # Others may read: the socket is open to all (0666). systemd's default soft limit: 1024 open files (its hard
    # one, 524288, is more than this sandbox may give).
    await daemon.start(*daemon.config('[api]\nothers = "read"\n'), files=(1024, 16384))
    holder = Holder(2000)
    try:
        count = await holder.connected()
        assert await root_gets_health(daemon) < 5  # root is not counted
        assert count == 2000
        # The default cap of 64 per user: the others were answered 429 and closed (those that sent nothing after a
        # second at most); apsisd holds 64 of nobody's connections, not 2000.
        assert await holder.fate(wait=5) == {"open": 64, "429": 1936}
    finally:
        holder.close()
    assert await root_gets_health(daemon) < 5
    assert accept_failures(daemon.log()) == 0
    assert "open files: raised the soft limit from 1024 to the hard limit 16384" in daemon.log()


@with_daemon(timeout=240)
async def test_out_of_descriptors_apsisd_says_so_now_and_then_and_recovers(daemon: Daemon) -> None:
    # Caps above what apsisd may open (it warns): nobody, who may read, takes every descriptor apsisd has left.
    await daemon.start(*daemon.config('[api]\nothers = "read"\nmax_connections_per_caller = 5000\n'
                                      'max_connections = 5000\n'), files=(256, 256))
    assert "raise LimitNOFILE= or lower them" in daemon.log()
    holder = Holder(1000)
    try:
        await holder.connected()
        await asyncio.sleep(6)  # accept() fails all along: a line at first, one more after 5 s at most
        assert 1 <= accept_failures(daemon.log()) <= 3
    finally:
        holder.close()
    assert await root_gets_health(daemon) < 5  # once nobody has let go, accept() goes on


async def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until apsisd closed the connection (read to its end), failing after `seconds`."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    sock.setblocking(False)
    async with asyncio.timeout(seconds):
        while await loop.sock_recv(sock, 65536):
            pass
    return loop.time() - started


def connected() -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(SOCKET)
    return sock


@with_daemon()
async def test_idle_and_slow_connections_are_closed(daemon: Daemon) -> None:
    await daemon.start(*daemon.config('[api]\nidle_timeout = "2s"\nrequest_timeout = "1s"\n'))
    with connected() as idle, connected() as slow_head, connected() as slow_body, connected() as kept:
        slow_head.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: apsis\r\n")  # and never the rest
        slow_body.sendall(b"POST /api/v1/reload HTTP/1.1\r\nHost: apsis\r\nContent-Length: 100\r\n\r\n{")
        kept.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: apsis\r\n\r\n")
        times = await asyncio.gather(closed_within(idle, 10), closed_within(slow_head, 10),
                                     closed_within(kept, 10))
        assert 1.5 < times[0] < 5 and 0.5 < times[1] < 1.9 and 1.5 < times[2] < 5, times
        slow_body.settimeout(10)
        answer = slow_body.recv(65536)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"the request's body did not arrive within 1 s ([api] request_timeout)" in answer
    assert await root_gets_health(daemon) < 5


async def stream_status(client: aiohttp.ClientSession, url: str, token: str, stack: AsyncExitStack
                        ) -> tuple[int, Any]:
    """Open the live stream with `token`, kept open in `stack`; its status, and a refusal's JSON."""
    response = await stack.enter_async_context(client.get(url, headers={"Authorization": f"Bearer {token}"}))
    return response.status, (await response.json() if response.status >= 400 else None)


@with_daemon()
async def test_streams_are_capped_per_caller_and_in_all(daemon: Daemon) -> None:
    first, second = new_token(), new_token()
    tokens = tokens_file(daemon.root, ("first", Right.READ, first), ("second", Right.READ, second))
    port = free_port()
    daemon.job("job", 'program: "true"\n')
    await daemon.start(*daemon.config(f"""
        [api]
        listen = ["unix:{SOCKET}", "tcp:127.0.0.1:{port}"]
        tokens = "{tokens}"
        max_streams_per_caller = 2
        max_streams = 3
        """))
    events = f"http://127.0.0.1:{port}/api/v1/events"
    async with AsyncExitStack() as stack, aiohttp.ClientSession() as client:
        assert [(await stream_status(client, events, first, stack))[0] for _ in range(2)] == [200, 200]
        status, body = await stream_status(client, events, first, stack)
        assert (status, body) == (429, {"error": "token first has 2 streams open (live streams and run outputs), "
                                                 "as many as [api] max_streams_per_caller allows; close one and "
                                                 "try again"})
        assert (await stream_status(client, events, second, stack))[0] == 200
        status, body = await stream_status(client, events, second, stack)
        assert (status, body) == (503, {"error": "apsisd is answering 3 streams (live streams and run outputs), "
                                                 "as many as [api] max_streams allows; try again later"})
        # A run's output is a stream too; root on the socket is not counted.
        output = f"http://127.0.0.1:{port}/api/v1/runs/r1/output"
        assert (await stream_status(client, output, first, stack))[0] == 429
        status, _ = await asyncio.wait_for(get("/api/v1/runs"), 5)
        assert status == 200
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET)) as local, \
                local.get("http://apsis/api/v1/events") as response:
            assert response.status == 200


async def events_status(port: int, token: str) -> int:
    """The status of the live stream opened with `token` (closed at once)."""
    async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}/api/v1/events",
                                                             headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status


async def received(sock: socket.socket, wanted: bytes, timeout: float = 20) -> None:
    """Read the answer on `sock` until it holds `wanted`."""
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    data = b""
    async with asyncio.timeout(timeout):
        while wanted not in data:
            data += await loop.sock_recv(sock, 65536)


async def seconds_until(status: int, port: int, token: str, timeout: float = 20) -> float:
    """Seconds until the live stream opened with `token` is answered `status`."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while await events_status(port, token) != status:
            await asyncio.sleep(0.05)
    return time.monotonic() - started


@with_daemon()
async def test_a_client_that_hangs_up_ends_its_stream_at_once_and_is_no_error(daemon: Daemon) -> None:
    token = new_token()
    tokens = tokens_file(daemon.root, ("reader", Right.READ, token))
    port = free_port()
    daemon.job("quiet", 'program: "echo begun; exec sleep 300"\n')
    daemon.job("later", 'schedule: {type: interval, interval: 1h}\nprogram: "true"\n')
    await daemon.start(*daemon.config(f"""
        [api]
        listen = ["unix:{SOCKET}", "tcp:127.0.0.1:{port}"]
        tokens = "{tokens}"
        max_streams_per_caller = 1
        """))
    status, made = await post("/api/v1/runs", {"job_id": "quiet"})
    assert status == 201, made
    quiet = made["runs"][0]["run_id"]
    await daemon.wait_runs(lambda runs: any(run.id == quiet and run.unit for run in runs), "quiet", "started")
    (later, *_) = await daemon.wait_runs(bool, "later", "a scheduled run")
    # The live stream (a keepalive every 15 s), the output of a run that writes nothing more, and the wait for a
    # run to start: none writes anything soon, and each must end as soon as its client has gone, not at its next
    # write (or never): a caller who connects, asks and hangs up in a loop would pile up journal readers.
    for path, sent in (("/api/v1/events", b"event: snapshot"), (f"/api/v1/runs/{quiet}/output?follow=1", b"begun\n"),
                       (f"/api/v1/runs/{later.id}/output?follow=1", None)):
        with socket.create_connection(("127.0.0.1", port)) as held:
            held.sendall(f"GET {path} HTTP/1.1\r\nHost: apsis\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
            if sent is None:
                await daemon.wait_log(f"run {later.id}: its output is followed once it starts")
            else:
                await received(held, sent)  # all it has to send for now: it waits for more
            assert await events_status(port, token) == 429  # the reader's one stream is taken
        assert await seconds_until(200, port, token) < 2, path
    # A client that hangs up before its body has come: nothing to answer, and no error in apsisd's log.
    with connected() as cut:
        cut.sendall(b"POST /api/v1/reload HTTP/1.1\r\nHost: apsis\r\nContent-Length: 100\r\n\r\n{")
    assert await root_gets_health(daemon) < 5  # asked after: answered after the cut request's end
    assert "action=api_failed" not in daemon.log()
