"""Telling systemd how apsisd is doing: sd_notify READY, STATUS, RELOADING, STOPPING and watchdog keep-alives.

Through pystemd's sd_notify and sd_watchdog_enabled (both in Debian 12's
pystemd 0.11 as in later ones), which read $NOTIFY_SOCKET, $WATCHDOG_USEC
and $WATCHDOG_PID themselves. Started by anything but a `Type=notify`
service, there is no $NOTIFY_SOCKET and every message is skipped.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time

from pystemd.daemon import notify, watchdog_enabled

log = logging.getLogger(__name__)


class Notifier:
    """The service manager's view of apsisd: `systemctl status apsisd` shows the last STATUS line."""

    def __init__(self) -> None:
        self._enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._failed = False

    def ready(self, status: str) -> None:
        """Started (or done reloading): runs recovered, scheduling."""
        self._send("READY=1", f"STATUS={_one_line(status)}")

    def status(self, text: str) -> None:
        self._send(f"STATUS={_one_line(text)}")

    def reloading(self) -> None:
        """The jobs are being reloaded; ready() says when that is done.

        MONOTONIC_USEC is what `Type=notify-reload` (systemd 253) requires with
        RELOADING=1; systemd 252 ignores it.
        """
        self._send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}", "STATUS=reloading the jobs")

    def stopping(self) -> None:
        """Shutting down (the runs on the host keep running)."""
        self._send("STOPPING=1", "STATUS=stopping")

    async def watchdog(self) -> None:
        """Ping the watchdog at half the interval the unit asks for (WatchdogSec=), until cancelled.

        Without a watchdog for this process (no $WATCHDOG_USEC, or
        $WATCHDOG_PID naming another), it only waits to be cancelled, so it
        can sit in a task group with the daemon's other endless tasks.
        """
        usec = watchdog_enabled(False) if self._enabled else 0
        if not usec:
            await asyncio.Event().wait()
        while True:
            self._send("WATCHDOG=1")
            await asyncio.sleep(usec / 2_000_000)

    def _send(self, *states: str) -> None:
        if not self._enabled:
            return
        result = notify(False, *states)
        if result < 0 and not self._failed:
            self._failed = True  # once: the watchdog would repeat it every few seconds
            log.warning("cannot notify the service manager at $NOTIFY_SOCKET=%s: %s; further failures are not "
                        "logged", os.environ.get("NOTIFY_SOCKET"), os.strerror(-result),
                        extra={"action": "notify_failed"})


def _one_line(text: str) -> str:
    """A STATUS value: a newline would start another assignment."""
    return " ".join(text.splitlines())
