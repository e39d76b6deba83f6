"""One admitted API connection: aiohttp's handler behind it, and clocks on the time it holds apsisd for nothing.

A connection is idle between answers: closed after [api] idle_timeout. From the first byte of a request it has
request_timeout to send it (the API's middleware reads the body within that too): a client that sends a header a
byte at a time (slowloris) is closed then. While a request is answered (the API says when, through answering()),
neither clock runs: a stream lasts as long as its client wants, within its own caps. An answer that lasts (a
stream, a wait for a run) ends as soon as the connection is lost: its handler is cancelled then (lasting()), where it
would otherwise learn of it only at its next write, which may never come. Its place in the door's count is given
back when it ends, however it ends.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import cast

from apsisd.config.api_limits import ApiLimits

log = logging.getLogger("apsisd.api")


class Connection(asyncio.Protocol):
    def __init__(self, handler: asyncio.Protocol, limits: ApiLimits, release: Callable[[], None]) -> None:
        self._handler = handler
        self._limits = limits
        self._release = release
        self._transport: asyncio.Transport | None = None
        self._clock: asyncio.TimerHandle | None = None
        self._receiving = False
        self._answering = 0
        self._lasting: set[asyncio.Task[object]] = set()
        self._lost = False

    @property
    def made(self) -> bool:
        """Whether it opened (a TLS connection may fail its handshake before): then connection_lost releases it."""
        return self._transport is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a stream's, socket or TLS
        self._handler.connection_made(transport)
        self._idle()

    def data_received(self, data: bytes) -> None:
        if not self._answering and not self._receiving:
            self._receiving = True
            self._start(self._limits.request_timeout, "sent no whole request")
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True  # an answer that ends after this starts no clock
        self._stop()
        self._release()
        self._handler.connection_lost(exc)
        for task in self._lasting:
            task.cancel()

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Within this, a request is being answered: no clock runs (api/limits.py's Answering)."""
        self._answering += 1
        self._stop()
        try:
            yield
        finally:
            self._answering -= 1
            if not self._answering:
                self._idle()

    @contextlib.contextmanager
    def lasting(self) -> Iterator[None]:
        """Within this, the current task (the handler of an answer that lasts) is cancelled when the connection is
        lost, at once if it is already (api/limits.py's Answering). aiohttp 3.8 cancels no handler then, and 3.9 only
        with handler_cancellation, which would cancel every handler, an operation half done included."""
        task = asyncio.current_task()
        assert task is not None
        if self._lost:
            task.cancel()
        self._lasting.add(task)
        try:
            yield
        finally:
            self._lasting.discard(task)

    def _idle(self) -> None:
        self._receiving = False
        self._start(self._limits.idle_timeout, "was idle")

    def _start(self, seconds: float, why: str) -> None:
        self._stop()
        if self._lost:
            return
        self._clock = asyncio.get_running_loop().call_later(seconds, self._expire, seconds, why)

    def _stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None

    def _expire(self, seconds: float, why: str) -> None:
        self._clock = None
        log.debug("API: a connection %s for %g s: closed", why, seconds, extra={"action": "api_timeout"})
        if self._transport is not None:
            self._transport.abort()
