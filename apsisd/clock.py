"""The wall clock as an argument: the scheduler asks it for the time and to wait, tests pass their own."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware UTC."""
        ...

    async def sleep_until(self, moment: datetime) -> None:
        """Return at `moment` (at once if it has passed)."""
        ...


class WallClock:
    """The system's real-time clock; waits on the loop's timer, re-checked so a clock step does not make us early."""

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time(), UTC)

    async def sleep_until(self, moment: datetime) -> None:
        target = moment.timestamp()
        while (delay := target - time.time()) > 0:  # noqa: ASYNC110 (a time is awaited, not an event)
            await asyncio.sleep(delay)
