"""What the local host may ask of systemd's bus at once: start jobs queued, and units pinned.

systemd adds a bus match rule for each queued job (to track who asked) and
for each pinned unit, and the bus allows its connection 512: past that,
systemd drops off the bus (and forgets every subscriber). So at most
MAX_STARTING start jobs are queued at once, and at most MAX_PINNED units
pinned; runs beyond are not pinned, and their CPU time is not read (their
outcome is, from the signals sent before the unit goes).
"""
from __future__ import annotations

import asyncio

from agentd.local.tracker import Tracker
from agentd.systemd.bus import SystemdBus

MAX_STARTING = 64
MAX_PINNED = 256


class BusBudget:
    """The start slots and pins of one connection to systemd."""

    def __init__(self, bus: SystemdBus) -> None:
        self._bus = bus
        self._start_slots = asyncio.Semaphore(MAX_STARTING)
        self._pinned = 0

    async def take_start_slot(self, tracker: Tracker) -> None:
        """A start slot, held until the run's start job is done (it started, or ended): at most MAX_STARTING
        start jobs wait in systemd, and the call timeout bounds how long one run can hold its slot."""
        await self._start_slots.acquire()
        timer = asyncio.get_running_loop().call_later(self._bus.call_timeout, self.free_start_slot, tracker)

        def release() -> None:
            timer.cancel()
            self._start_slots.release()

        tracker.start_slot = release

    def free_start_slot(self, tracker: Tracker) -> None:
        release = tracker.start_slot
        if release is not None:
            tracker.start_slot = None
            release()

    def pin_at_start(self, tracker: Tracker) -> None:
        """Whether the unit about to be made is pinned (AddRef): while pins are left."""
        tracker.pinned = self._pinned < MAX_PINNED
        self._pinned += tracker.pinned

    def pinned(self, tracker: Tracker) -> None:
        """Count a pin taken on the unit (RefUnit answered)."""
        if not tracker.pinned:
            tracker.pinned = True
            self._pinned += 1

    def unpin(self, tracker: Tracker) -> None:
        """Count the unit as no longer pinned (its start failed: no reference was taken)."""
        if tracker.pinned:
            tracker.pinned = False
            self._pinned -= 1

    def let_go(self, tracker: Tracker) -> None:
        """Drop our reference on the unit: systemd may unload it."""
        if tracker.pinned:
            self.unpin(tracker)
            self._bus.tell("UnrefUnit", "s", [tracker.unit])
