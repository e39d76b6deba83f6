"""What the local host knows of one run's unit, and the events it has told: a stream any number may follow."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from agentd.host import Finished, HostEvent, Started
from agentd.systemd import outcome
from agentd.systemd.trust import Writer
from agentd.systemd.units import object_path, unit_name
from agentd.types import RunId


class Tracker:
    """What we know of one run's unit, and the events told so far."""

    def __init__(self, run_id: RunId) -> None:
        self.run_id = run_id
        self.unit = unit_name(run_id)
        self.path = object_path(self.unit)
        self.props: dict[str, Any] = {}
        self.signals_heard = 0  # PropertiesChanged signals merged into props so far (following.read_settled)
        self.events: list[HostEvent] = []
        self.finished: Finished | None = None
        self.stop_requested = False
        self.signals_sent: list[str] = []
        self.harvesting = False
        self.attaching = False
        # The StartTransientUnit arguments that made the run's unit (an armed run's: timer and service), to make
        # it again if systemd re-reads it before it starts and refuses it (arming.remake).
        self.arm: list[Any] | None = None
        self.start_job: str | None = None  # the job that started the unit (our call's, or its timer's): no stop
        self.starting = False  # its StartTransientUnit call is on its way: that call, not a re-check, settles it
        self.rearming = False
        self.pending: set[asyncio.Future[None]] = set()  # its tasks not yet done
        self.attached: asyncio.Future[None] | None = None  # done once attached (attaching.py)
        self.since: datetime | None = None  # journal records before this are an earlier run's of the same name
        self.pinned = False  # we hold a reference on the unit (AddRef/RefUnit)
        self.start_slot: Callable[[], None] | None = None  # releases the start slot this run holds
        self.split_uid: int | None = None  # a split run's uid: its output's writer is noted once it starts
        self.writer: Writer | None = None  # whose pid and uid mark the split run's output lines (trust.py)
        self._changed = asyncio.Event()

    @property
    def started(self) -> bool:
        return any(isinstance(e, Started) for e in self.events)

    @property
    def ended(self) -> bool:
        """Told Finished, or systemd says it has ended and Finished is on its way."""
        return self.finished is not None or outcome.has_ended(self.props)

    def emit(self, event: HostEvent) -> None:
        """Tell an event to every stream of this run, now and later."""
        self.events.append(event)
        if isinstance(event, Finished):
            self.finished = event
        self._changed.set()
        self._changed = asyncio.Event()

    async def stream(self) -> AsyncIterator[HostEvent]:
        i = 0
        while True:
            while i < len(self.events):
                event = self.events[i]
                i += 1
                yield event
                if isinstance(event, Finished):
                    return
            await self._changed.wait()
