"""A clock the test sets (`at`), whose sleeps never end within a test: the scheduler's tests move time by hand."""
from __future__ import annotations

import asyncio
from datetime import datetime


class SetClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(3600)
