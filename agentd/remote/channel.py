"""One connection to agentd: requests by id, and their answers and stream items routed back to who asked.

A reader slower than its stream (an API client following output at a crawl)
must not hold up every other run of the host: past MAX_BACKLOG frames
waiting, its stream is ended with an error, and it may ask again from its
last cursor.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncGenerator
from typing import Any

from agentd.errors import HostError
from agentd.protocol import frames
from agentd.protocol.frames import ProtocolError
from agentd.protocol.messages import SPOKEN, Hello, error_from_plain
from agentd.protocol.wire import from_plain

MAX_BACKLOG = 256  # frames of one stream not yet taken by its reader
_LOST = object()


class ConnectionLost(HostError):
    """The connection to agentd ended: what was asked may or may not have been done."""


class Channel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.host = host
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._calls: dict[int, asyncio.Future[Any]] = {}
        self._streams: dict[int, asyncio.Queue[Any]] = {}
        self._lost: ConnectionLost | None = None
        self._sending = asyncio.Lock()

    @property
    def lost(self) -> bool:
        """The connection has ended: nothing more can be asked on it."""
        return self._lost is not None

    @property
    def why_lost(self) -> str | None:
        """How the connection ended, once it has."""
        return None if self._lost is None else str(self._lost)

    async def hello(self, scheduler: str, within: float) -> Hello:
        """Say hello; agentd's answer."""
        await self._send({"op": "hello", "protocol": list(SPOKEN), "scheduler": scheduler})
        async with asyncio.timeout(within):
            reply = await frames.read(self._reader)
        if reply is None:
            raise ConnectionLost(f"{self.host}: agentd ended the connection before its hello")
        if "error" in reply:
            raise error_from_plain(reply["error"], self.host)
        return from_plain(Hello, reply.get("hello"), "hello")

    async def clock_skew(self, within: float) -> float:
        """How far agentd's clock is ahead of ours, in seconds: its clock in a ping's answer, against the mid-point
        of the ping (the hello's would count agentd's own start, which its answer waits for)."""
        asked = time.time()
        pong = await self.call("ping", within)
        answered = time.time()
        clock = pong.get("clock") if isinstance(pong, dict) else None
        if not isinstance(clock, (int, float)) or isinstance(clock, bool):
            raise ProtocolError(f"{self.host}: a ping answered {pong!r}, not a clock")
        return float(clock) - (asked + answered) / 2

    async def run(self) -> None:
        """Route what agentd sends until the connection ends; then every open call and stream hears it."""
        reason = "agentd ended the connection"
        try:
            while (message := await frames.read(self._reader)) is not None:
                self._route(message)
        except (OSError, ProtocolError) as exc:
            reason = str(exc)
        finally:
            self._lost = self._lost or ConnectionLost(f"{self.host}: connection to agentd lost: {reason}")
            for future in self._calls.values():
                if not future.done():
                    future.set_exception(self._lost)
            for queue in self._streams.values():
                queue.put_nowait(_LOST)

    def _route(self, message: dict[str, Any]) -> None:
        ident = message.get("id")
        future = self._calls.pop(ident, None) if isinstance(ident, int) else None
        if future is not None:
            if not future.done():
                if "error" in message:
                    future.set_exception(error_from_plain(message["error"], self.host))
                else:
                    future.set_result(message.get("ok"))
            return
        queue = self._streams.get(ident) if isinstance(ident, int) else None
        if queue is None:
            return  # a stream given up on: its last frames were already on their way
        if queue.qsize() >= MAX_BACKLOG:
            del self._streams[ident]  # type: ignore[arg-type]
            queue.put_nowait({"error": {"kind": "host", "message": (
                f"the reader of this stream fell {MAX_BACKLOG} frames behind; ask again from its last cursor")}})
            return
        queue.put_nowait(message)

    async def call(self, op: str, within: float, **args: Any) -> Any:
        """Ask agentd and wait, at most `within` seconds, for its answer."""
        if self._lost is not None:
            raise self._lost
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls[ident] = future
        try:
            await self._send({"id": ident, "op": op, **args})
            async with asyncio.timeout(within):
                return await future
        except TimeoutError:
            raise HostError(f"{self.host}: agentd did not answer {op} within {within:.0f} s") from None
        finally:
            self._calls.pop(ident, None)

    async def stream(self, op: str, **args: Any) -> AsyncGenerator[Any, None]:
        """The items of a stream agentd sends, to its end; closing this early cancels it there."""
        if self._lost is not None:
            raise self._lost
        ident = next(self._ids)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._streams[ident] = queue
        ended = False
        try:
            await self._send({"id": ident, "op": op, **args})
            while True:
                message = await queue.get()
                if message is _LOST:
                    ended = True
                    raise self._lost or ConnectionLost(f"{self.host}: connection to agentd lost")
                if "error" in message:
                    ended = True
                    raise error_from_plain(message["error"], self.host)
                for item in message.get("items") or ():
                    yield item
                if message.get("end"):
                    ended = True
                    return
        finally:
            self._streams.pop(ident, None)
            if not ended and self._lost is None:
                with contextlib.suppress(HostError, OSError):
                    await self._send({"id": ident, "op": "cancel"})

    async def _send(self, message: dict[str, Any]) -> None:
        data = frames.encode(message)
        async with self._sending:
            if self._lost is not None:
                raise self._lost
            self._writer.write(data)
            try:
                async with asyncio.timeout(30):
                    await self._writer.drain()
            except (OSError, TimeoutError) as exc:
                raise ConnectionLost(f"{self.host}: could not write to agentd: {exc or 'timed out'}") from None

    def close(self, why: str | None = None) -> None:
        """Close our side; `why`: the connection is given up as lost, for that reason (what run() then tells
        every open call and stream, rather than how its reading ends)."""
        if why is not None and self._lost is None:
            self._lost = ConnectionLost(f"{self.host}: connection to agentd lost: {why}")
        self._writer.close()
