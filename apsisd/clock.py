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


# Linux lets a poll's timeout end late by up to 0.1% of its length (0.5% in a niced process, at most 100 ms), to
# batch wake-ups (select_estimate_accuracy): a minute's wait on the event loop can end 60 ms late.
_SLACK_SHARE = 0.005
_MAX_SLACK = 0.1
_PRECISE = 0.005  # a wait this short ends within the timer slack (50 µs) and asyncio's rounding to the millisecond


def loop_delay(seconds: float) -> float:
    """How long to ask the event loop to wait for a moment `seconds` away: short of it by what the kernel may add,
    so the wait ends before the moment and the caller waits again for the rest, which ends on time."""
    if seconds <= _PRECISE:
        return max(0.0, seconds)
    return seconds - min(seconds * _SLACK_SHARE, _MAX_SLACK)


class WallClock:
    """The system's real-time clock; waits on the loop's timer, re-checked so a clock step does not make us early."""

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time(), UTC)

    async def sleep_until(self, moment: datetime) -> None:
        target = moment.timestamp()
        while (delay := target - time.time()) > 0:  # noqa: ASYNC110 (a time is awaited, not an event)
            await asyncio.sleep(loop_delay(delay))
