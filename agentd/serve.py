"""agentd serve: this machine's Host, for an apsisd on another, spoken to over a pair of pipes (SSH's stdio).

One connection is one client: its requests run as named tasks, each answered
when done, so a long stream (a run's output followed to its end) holds up no
other request. When the client goes (stdin ends, the link is cut) every task
is cancelled and agentd exits; the runs go on, as they are systemd's units,
and the next connection finds them again.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from agentd.errors import ApsisError
from agentd.host import Host
from agentd.protocol import frames
from agentd.protocol.frames import ProtocolError
from agentd.protocol.messages import SPOKEN, Hello, error_to_plain
from agentd.protocol.wire import from_plain, moment_from_plain, to_plain
from agentd.spec import RunSpec, Stream
from agentd.tasks import TaskRoom
from agentd.types import RunId

log = logging.getLogger(__name__)

HELLO_WITHIN = 30.0  # seconds for a client to say hello
SEND_WITHIN = 60.0  # seconds for the client to take a frame: longer, it is gone
BATCH = 512  # items of a stream in one frame at most
QUEUED = 2048  # items of a stream read ahead of what the client has taken
_END = object()


class Server:
    """One client's connection to this machine's Host."""

    def __init__(self, host: Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 hello: Callable[[int], Hello], clock: Callable[[], float] = time.time) -> None:
        self._host = host
        self._clock = clock
        self._reader = reader
        self._writer = writer
        self._hello = hello
        self._room = TaskRoom("agentd-serve")
        self._streams: dict[int, asyncio.Future[None]] = {}
        self._sending = asyncio.Lock()

    async def serve(self) -> None:
        """Answer the client until it goes."""
        await self._room.open()
        try:
            await self._greet()
            while (message := await frames.read(self._reader)) is not None:
                self._dispatch(message)
        finally:
            await self._room.close()

    async def _greet(self) -> None:
        async with asyncio.timeout(HELLO_WITHIN):
            message = await frames.read(self._reader)
        if message is None or message.get("op") != "hello":
            raise ProtocolError("the client did not begin with hello")
        offered = message.get("protocol")
        common = [v for v in offered if v in SPOKEN] if isinstance(offered, list) else []
        if not common:
            await self._send({"op": "hello", "error": {"kind": "host", "message": (
                f"agentd speaks protocol versions {list(SPOKEN)}, the client {offered!r}: upgrade the older one")}})
            raise ProtocolError(f"no protocol version in common with the client's {offered!r}")
        await self._send({"op": "hello", "hello": to_plain(self._hello(max(common)))})

    def _dispatch(self, message: dict[str, Any]) -> None:
        ident, op = message.get("id"), message.get("op")
        if not isinstance(ident, int) or isinstance(ident, bool):
            raise ProtocolError(f"a request without an integer id: {str(message)[:200]}")
        if op == "cancel":
            stream = self._streams.pop(ident, None)
            if stream is not None:
                stream.cancel()
            return
        task = self._room.spawn(self._answer(ident, str(op), message), f"{op}:{ident}")
        if op in STREAMS:
            self._streams[ident] = task
            task.add_done_callback(lambda _: self._streams.pop(ident, None))

    async def _answer(self, ident: int, op: str, message: dict[str, Any]) -> None:
        try:
            if op in STREAMS:
                await self._pump(ident, STREAMS[op](self._host, message))
                await self._send({"id": ident, "end": True})
            elif op == "ping":
                await self._send({"id": ident, "ok": {"clock": self._clock()}})
            elif op in CALLS:
                await self._send({"id": ident, "ok": await CALLS[op](self._host, message)})
            else:
                raise ProtocolError(f"unknown request {op!r}")
        except Exception as exc:  # every failure is the client's to hear, none is agentd's end
            error = _single(exc)
            if not isinstance(error, ApsisError):
                log.error("request %s %s failed", op, ident, exc_info=error)
            await self._send({"id": ident, "error": error_to_plain(error)})

    async def _pump(self, ident: int, items: AsyncIterator[Any]) -> None:
        """Send a stream's items in batches of what is ready, reading ahead at most QUEUED of them."""
        queue: asyncio.Queue[Any] = asyncio.Queue(QUEUED)

        async def fill() -> None:
            try:
                async for item in items:
                    await queue.put(to_plain(item))
            finally:
                with contextlib.suppress(AttributeError):
                    await items.aclose()  # type: ignore[attr-defined]  # its journal reader goes with it
            await queue.put(_END)

        async def send() -> None:
            while True:
                batch = [await queue.get()]
                while len(batch) < BATCH and not queue.empty():
                    batch.append(queue.get_nowait())
                ended = batch[-1] is _END
                items_now = batch[:-1] if ended else batch
                if items_now:
                    await self._send({"id": ident, "items": items_now})
                if ended:
                    return

        async with asyncio.TaskGroup() as group:
            group.create_task(fill(), name=f"read:{ident}")
            group.create_task(send(), name=f"send:{ident}")

    async def _send(self, message: dict[str, Any]) -> None:
        data = frames.encode(message)
        async with self._sending:
            self._writer.write(data)
            try:
                async with asyncio.timeout(SEND_WITHIN):
                    await self._writer.drain()
            except TimeoutError:
                self._writer.close()
                raise ProtocolError(f"the client took no frame in {SEND_WITHIN:.0f} s") from None


def _single(exc: BaseException) -> BaseException:
    """The one error inside a task group's group of one (a stream's)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _run_id(message: dict[str, Any]) -> RunId:
    value = message.get("run_id")
    if not isinstance(value, str):
        raise ProtocolError(f"{message.get('op')}: run_id must be a string")
    return RunId(value)


def _time(message: dict[str, Any], name: str) -> datetime | None:
    value = message.get(name)
    return None if value is None else moment_from_plain(value, f"{message.get('op')}.{name}")


async def _start(host: Host, message: dict[str, Any]) -> Any:
    spec = from_plain(RunSpec, message.get("spec"), "start.spec")
    return to_plain(await host.start(spec, at=_time(message, "at")))


async def _stop(host: Host, message: dict[str, Any]) -> Any:
    await host.stop(_run_id(message))


async def _kill(host: Host, message: dict[str, Any]) -> Any:
    signal = message.get("signal")
    if not isinstance(signal, (str, int)) or isinstance(signal, bool):
        raise ProtocolError("kill: signal must be a name or a number")
    await host.kill(_run_id(message), signal)


async def _list(host: Host, message: dict[str, Any]) -> Any:
    return [to_plain(unit) for unit in await host.list()]


async def _output_gaps(host: Host, message: dict[str, Any]) -> Any:
    started = _time(message, "started")
    if started is None:
        raise ProtocolError("output_gaps: started is required")
    return list(await host.output_gaps(_run_id(message), started))


def _events(host: Host, message: dict[str, Any]) -> AsyncIterator[Any]:
    return host.events(_run_id(message), since=_time(message, "since"))


def _output(host: Host, message: dict[str, Any]) -> AsyncIterator[Any]:
    after, stream = message.get("after_cursor"), message.get("stream")
    if after is not None and not isinstance(after, str):
        raise ProtocolError("output: after_cursor must be a string")
    if stream is not None and stream not in {s.value for s in Stream}:
        raise ProtocolError(f"output: stream must be one of {[s.value for s in Stream]}")
    return host.output(_run_id(message), follow=message.get("follow") is True, after_cursor=after,
                       stream=None if stream is None else Stream(stream))


CALLS = {"start": _start, "stop": _stop, "kill": _kill, "list": _list, "output_gaps": _output_gaps}
STREAMS = {"events": _events, "output": _output}
