"""Answers that last (a run's output, the live stream): counted against [api] streams limits, and ended when apsisd
stops, not waited for.

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

from apsisd.api.state import KEY, ApiState, state_of
from apsisd.api.stream_slots import counted_as


def held(request: web.Request) -> AbstractContextManager[None]:
    """Within this, the request's caller holds one of their streams (api/stream_slots.py): 429 or 503 if none is
    free."""
    state = state_of(request)
    return state.streams.slot(counted_as(request), state.limits)


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
