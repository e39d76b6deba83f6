"""Answers that last (a run's output, the live stream): counted against [api] streams limits, ended when their
client goes away, and when apsisd stops, not waited for.

A handler learns that its client went away only when it next writes, which a followed output of a quiet run, or one
waiting for its run to start, may never do: it would hold its journal reader and its stream for nobody. The
connection says when it is lost (daemon/connection.py), and cancels the handler then; on any aiohttp, since 3.8
cancels no handler, and 3.9's handler_cancellation would cancel every handler, an operation half done included.

When its server stops, aiohttp waits up to its shutdown timeout (60 s) for the handlers still running: one
that follows a run for hours would hold apsisd's stop that long. The app's on_shutdown, which aiohttp runs
before that wait, ends them: the live streams by closing the feed (each sends what it has and ends), the
others by cancelling them (their clients see the answer end without its last chunk, and may resume).
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager

from aiohttp import web

from apsisd.api.limits import Answering
from apsisd.api.state import KEY, ApiState, state_of
from apsisd.api.stream_slots import counted_as


@contextlib.contextmanager
def held(request: web.Request) -> Iterator[None]:
    """Within this, the request's caller holds one of their streams (api/stream_slots.py): 429 or 503 if none is
    free; and the request's handler is ended (cancelled) as soon as its client goes away."""
    state = state_of(request)
    with state.streams.slot(counted_as(request), state.limits), _with_its_client(request):
        yield


def _with_its_client(request: web.Request) -> AbstractContextManager[None]:
    """The connection's watch (daemon/connection.py); a client gone already ends the handler at once."""
    transport = request.transport
    connection = transport.get_protocol() if transport is not None else None
    if isinstance(connection, Answering):
        return connection.lasting()
    if transport is None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
    return contextlib.nullcontext()


@contextlib.contextmanager
def lasting(request: web.Request) -> Iterator[None]:
    """Within this, the request's handler is ended (cancelled) when the API shuts down."""
    tasks = state_of(request).lasting
    task = asyncio.current_task()
    assert task is not None
    tasks.add(task)
    try:
        yield
    finally:
        tasks.discard(task)


async def end_all(app: web.Application) -> None:
    """on_shutdown: end every lasting answer."""
    state: ApiState = app[KEY]
    state.scheduler.records.feed.close()
    for task in list(state.lasting):
        task.cancel()


async def send(request: web.Request, response: web.StreamResponse, chunk: bytes) -> None:
    """One piece of an answer that lasts, sent within [api] idle_timeout: a client that takes nothing for that
    long is cut off (it would hold its journal reader, or its stream and the snapshot, and its connection for
    ever)."""
    if not chunk:
        return
    try:
        async with asyncio.timeout(state_of(request).limits.idle_timeout):
            await response.write(chunk)
    except TimeoutError:
        cut(request)
        raise ConnectionResetError("the client took none of the answer in time") from None


def cut(request: web.Request) -> None:
    """The answer ends without its last chunk (or short of its length): the client sees it is cut short."""
    if request.transport is not None:
        request.transport.close()
