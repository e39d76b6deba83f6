"""What the parts of the local host share: the bus, its budget, the runs tracked, and the group their tasks run in."""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from agentd.host import Finished
from agentd.local.budget import BusBudget
from agentd.local.tracker import Tracker
from agentd.systemd.bus import SystemdBus
from agentd.systemd.streams import OpenStreams
from agentd.tasks import TaskRoom
from agentd.types import RunId


class LocalContext:
    """One local host's state, handed to each of its parts (starting, following, recovery)."""

    def __init__(self, *, bus: SystemdBus, user_manager: bool, keep_finished: float) -> None:
        self.bus = bus
        self.budget = BusBudget(bus)
        self.user_manager = user_manager
        self.keep_finished = keep_finished
        self.trackers: dict[RunId, Tracker] = {}
        self.by_path: dict[str, Tracker] = {}
        self.streams = OpenStreams()
        self.has_memory_peak: bool | None = None  # None until asked: systemd < 255 does not keep it
        self.manager_startup_usec: int | None = None  # the manager's start (monotonic): what timers count from
        self.tasks = TaskRoom("local-host")  # every task of the host's, cancelled and awaited at close

    def spawn(self, tracker: Tracker, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run `coro` among the host's tasks, counted as the run's (its end waits for the others: _harvest)."""
        task = self.tasks.spawn(coro, name)
        tracker.pending.add(task)
        task.add_done_callback(tracker.pending.discard)

    def track(self, run_id: RunId) -> Tracker:
        tracker = Tracker(run_id)
        self.trackers[run_id] = tracker
        self.by_path[tracker.path] = tracker
        return tracker

    def finish(self, tracker: Tracker, finished: Finished) -> None:
        """Tell the run's end; it is kept in memory keep_finished seconds for events() asked late."""
        tracker.emit(finished)
        asyncio.get_running_loop().call_later(self.keep_finished, self.untrack, tracker)

    def untrack(self, tracker: Tracker) -> None:
        self.budget.free_start_slot(tracker)
        self.budget.let_go(tracker)
        if self.trackers.get(tracker.run_id) is tracker:
            del self.trackers[tracker.run_id]
            del self.by_path[tracker.path]

