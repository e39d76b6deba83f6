"""Whether the state can be written: the store's last refusal (disk full, say), until a write succeeds again.

A refused commit changes nothing, in the store or in memory (records.py
puts the ledger back), and nothing acts on it; the work apsisd owes itself
(a due run to start, a unit's end to record, a stop time) waits and tries
again every RETRY seconds through `retrying`, so that when space returns
it goes on by itself. Meanwhile the API's health answers 503 with the
problem, and `apsis status` shows it.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from apsisd.errors import StoreError

log = logging.getLogger("apsisd.scheduler")
T = TypeVar("T")
RETRY = 5.0  # seconds between attempts at work the store refused


class StoreHealth:
    def __init__(self) -> None:
        self.problem: str | None = None  # the last refusal's message while refused; None while writes succeed
        self.since: datetime | None = None  # when writes began to fail
        self.failing = asyncio.Event()  # set while `problem` is

    def refused(self, error: StoreError, now: datetime) -> None:
        if self.problem is None:
            self.since = now
            log.error("the state cannot be written: %s; apsisd acts on nothing it cannot record, and tries again "
                      "every %g s", error, RETRY, extra={"action": "store_failing"})
        self.problem = str(error)
        self.failing.set()

    def written(self) -> None:
        if self.problem is not None:
            log.warning("the state can be written again (it could not since %s); apsisd goes on", self.since,
                        extra={"action": "store_recovered"})
        self.problem = self.since = None
        self.failing.clear()

    async def retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()`, made again every RETRY seconds for as long as the store refuses it (StoreError)."""
        while True:
            try:
                return await attempt()
            except StoreError as exc:
                log.warning("%s: not recorded (%s); trying again in %g s", what, exc, RETRY,
                            extra={"action": "store_retry"})
            await asyncio.sleep(RETRY)
