"""Clocks the test sets: the scheduler's tests move time by hand, and nothing waits on the wall clock.

SetClock's sleeps never end within a test (time stands still unless set).
MovingClock's end as soon as the test has moved it to their moment: a stop
time, a maximum waiting time, a run with conditions waiting for its time.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta


class SetClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(3600)


class MovingClock:
    """A clock at `at` until the test moves it (move_to, advance); every sleep_until whose moment has come then
    ends, and one whose moment has passed ends at once."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return self.at

    async def sleep_until(self, moment: datetime) -> None:
        while self.at < moment:
            await self._moved.wait()

    def move_to(self, at: datetime) -> None:
        """The clock at `at` (never back: a clock stepped back is not what these tests are about)."""
        assert at >= self.at, f"{at} is before {self.at}"
        self.at = at
        self._moved.set()  # the sleepers wake and look again; later sleepers wait on a fresh event
        self._moved = asyncio.Event()

    def advance(self, delta: timedelta) -> None:
        self.move_to(self.at + delta)
