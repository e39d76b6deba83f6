"""A warning that may recur thousands of times a second (accept() out of file descriptors), written at most once
every few seconds with how many times it happened: the log stays readable, and the disk and journald are spared.
"""
from __future__ import annotations

import logging
from collections.abc import Callable


class Throttled:
    """`note(message)` logs the first time, then at most once every `every` seconds, with the count since."""

    def __init__(self, log: logging.Logger, action: str, *, every: float, now: Callable[[], float]) -> None:
        self._log = log
        self._action = action
        self._every = every
        self._now = now
        self._last: float | None = None
        self._unsaid = 0

    def note(self, message: str) -> bool:
        """Count it, and log it if its time has come (True then)."""
        self._unsaid += 1
        now = self._now()
        if self._last is not None and now - self._last < self._every:
            return False
        times = "" if self._last is None else f" ({self._unsaid} times in the last {now - self._last:.0f} s)"
        self._log.warning("%s%s", message, times, extra={"action": self._action})
        self._last, self._unsaid = now, 0
        return True
