"""The API's listening sockets, accepted by apsisd itself: each new connection is let in or turned away at the door
(daemon/door.py) before any of it is read, and running out of file descriptors is waited out, not looped on.

asyncio's own server accepts first and asks no one; and when accept() fails for want of descriptors (EMFILE) it
logs the error and schedules a retry for every connection still waiting, up to its backlog each time: a full
listen queue made 200,000 lines in 40 s. Here accept() stops for a second, and the warning is written at most
once every few seconds with a count (daemon/log_throttle.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Sequence

from aiohttp import web

from apsisd.config.api_limits import ApiLimits
from apsisd.daemon.connection import Connection
from apsisd.daemon.door import Door, Refused
from apsisd.daemon.log_throttle import Throttled
from apsisd.daemon.refusals import Refusals

log = logging.getLogger("apsisd.api")
BATCH = 64  # connections accepted at most per turn of the event loop: the rest of apsisd gets its turns too
RETRY = 1.0  # seconds without accept() after it failed for want of descriptors or memory


class Listener(asyncio.AbstractServer):
    """Accepting on `socks` (bound and listening) for aiohttp's `handler` factory, through `door`."""

    def __init__(self, socks: Sequence[socket.socket], handler: Callable[[], asyncio.Protocol], door: Door,
                 tls: ssl.SSLContext | None, name: str) -> None:
        self._socks = list(socks)
        self._handler = handler
        self._door = door
        self._tls = tls
        self._name = name
        self._loop = asyncio.get_running_loop()
        self._opening: set[asyncio.Task[object]] = set()
        self._paused: asyncio.TimerHandle | None = None
        self._closed = asyncio.Event()
        self._refusals = Refusals()
        self._short = Throttled(log, "api_accept_failed", every=5.0, now=self._loop.time)
        for sock in self._socks:
            sock.setblocking(False)
        self._resume()

    @property
    def limits(self) -> ApiLimits:
        return self._door.limits

    def _resume(self) -> None:
        self._paused = None
        for sock in self._socks:
            self._loop.add_reader(sock.fileno(), self._ready, sock)

    def _ready(self, sock: socket.socket) -> None:
        for _ in range(BATCH):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                self._pause(exc)
                return
            self._take(conn)

    def _pause(self, exc: OSError) -> None:
        """Out of descriptors or memory (or any other failure of accept): accept nothing until a connection ends,
        or RETRY seconds at most (the kernel keeps the queue), and say so now and then."""
        for sock in self._socks:
            self._loop.remove_reader(sock.fileno())
        if self._paused is None:
            self._paused = self._loop.call_later(RETRY, self._resume)
        self._short.note(f"API: cannot accept connections on {self._name}: {exc.strerror or exc}; trying again as "
                         f"connections end, or in {RETRY:g} s (raise LimitNOFILE=, or lower [api] max_connections)")

    def _wake(self) -> None:
        """A connection ended, and its descriptor is free: accepting again at once if it had paused."""
        if self._paused is not None:
            self._paused.cancel()
            self._resume()

    def _take(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        try:
            entered = self._door.enter(conn)
        except OSError:
            conn.close()  # gone before it was looked at
            return
        if isinstance(entered, Refused):
            log.debug("API: a connection on %s refused: %s", self._name, entered.message,
                      extra={"action": "api_refused"})
            self._refusals.turn_away(conn, entered, plain=self._tls is None)
            return
        task = self._loop.create_task(self._open(conn, entered), name=f"api-connection:{self._name}")
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _open(self, conn: socket.socket, key: str | None) -> None:
        """The connection handed to aiohttp (after the TLS handshake, within request_timeout); its place in the
        door's count given back when it ends, or now if it never opens."""
        made: list[Connection] = []
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._door.leave(key)
                self._wake()

        def protocol() -> asyncio.Protocol:
            made.append(Connection(self._handler(), self.limits, release))
            return made[-1]

        try:
            await self._loop.connect_accepted_socket(protocol, conn, ssl=self._tls,
                                                     ssl_handshake_timeout=self.limits.request_timeout
                                                     if self._tls else None)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            log.debug("API: a connection on %s did not open: %s", self._name, exc, extra={"action": "api_refused"})
            conn.close()
            if not (made and made[0].made):
                release()

    def close(self) -> None:
        if self._paused is not None:
            self._paused.cancel()
            self._paused = None
        for sock in self._socks:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._socks = []
        self._refusals.close()
        self._closed.set()
        for task in self._opening:
            task.cancel()

    async def wait_closed(self) -> None:
        await asyncio.gather(*self._opening, return_exceptions=True)

    async def start_serving(self) -> None:
        """It serves from the start."""

    async def serve_forever(self) -> None:
        await self._closed.wait()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return bool(self._socks)


class Site(web.BaseSite):
    """An aiohttp site on sockets apsisd binds and accepts on itself (the runner stops it as its own)."""

    def __init__(self, runner: web.BaseRunner, socks: Sequence[socket.socket], door: Door,
                 tls: ssl.SSLContext | None, name: str) -> None:
        super().__init__(runner, ssl_context=tls)
        self._socks = socks
        self._door = door
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        handler = self._runner.server
        assert handler is not None
        self._server = Listener(self._socks, handler, self._door, self._ssl_context, self._name)


async def tcp_sockets(host: str, port: int, backlog: int) -> list[socket.socket]:
    """A listening socket on each address `host` names (a name may have an IPv4 and an IPv6 one), as asyncio's
    create_server binds them: SO_REUSEADDR, IPv6 sockets IPv6 only."""
    infos = await asyncio.get_running_loop().getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks
