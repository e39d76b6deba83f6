"""The feed of changes the live stream serves: every run written (with its sequence number from the store), every
run withdrawn, every change of the jobs; the recent ones kept, so a client that reconnects is given exactly what
it missed.

A change of a run is numbered by the store (Store.commit), so a client's
position survives apsisd restarting: what the buffer no longer holds, the
store still knows (Store.changed_since). Changes of the jobs are not
numbered (jobs are files, not history): they sit between the runs' changes
and are sent again after a resume, which is harmless (a job's JSON replaces
the last one).

Each subscriber has its own queue, bounded: one that falls behind by more
than it holds is cut off (Lagged), and comes back from where it was, out
of the buffer, rather than holding every change in memory for it.
"""
from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentd.types import JobId, RunId
from apsisd.jobs.model import Job
from apsisd.runs.model import Run

# Changes kept for clients that reconnect: a minute at 200 changes a second, for about 15 MB (a run's version and
# its encoded event). A client away longer resumes from the store: each run once, in its latest state.
BUFFER = 10_000
QUEUE = 10_000  # changes a subscriber may be behind before it is cut off (and resumes from where it was)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobsChanged:
    added: tuple[Job, ...] = ()
    changed: tuple[Job, ...] = ()
    removed: tuple[JobId, ...] = ()


@dataclass(slots=True, kw_only=True, eq=False)
class Change:
    """One change: a run written (`run`), a run withdrawn (`deleted`), or the jobs (`jobs`).

    `seq` is the store's number of a run's change; a change of the jobs has
    none and takes the place after `after`, the number of the change before it.
    `encoded` is for the stream: each change is encoded once, however many
    clients it goes to.
    """

    seq: int | None
    after: int
    run: Run | None = None
    deleted: RunId | None = None
    jobs: JobsChanged | None = None
    encoded: Any = field(default=None)

    @property
    def key(self) -> tuple[int, int]:
        """Its place in the feed: a run's change at its number, the jobs' just after the change before them."""
        return (self.seq, 0) if self.seq is not None else (self.after, 1)


class Lagged(Exception):
    """The subscriber fell too far behind and was cut off; it resumes from the last change it had."""


class Subscription:
    """The changes published after subscribe(), in order; iterate it (Lagged when cut off), close it when done."""

    def __init__(self, feed: Feed, limit: int) -> None:
        self._feed = feed
        self._limit = limit
        self._queue: deque[Change] = deque()
        self._ready = asyncio.Event()
        self.lagged = False
        self.closed = False

    def put(self, change: Change) -> None:
        if self.lagged:
            return
        if len(self._queue) >= self._limit:
            self.lagged = True
            self._queue.clear()
        else:
            self._queue.append(change)
        self._ready.set()

    async def next_batch(self, patience: float) -> list[Change] | None:
        """The changes that came since the last call (waiting up to `patience` seconds for one; [] if none came); None
        once the feed is closed and all was taken; Lagged when cut off."""
        if not self._queue and not self.lagged and not self.closed:
            self._ready.clear()
            try:
                async with asyncio.timeout(patience):
                    await self._ready.wait()
            except TimeoutError:
                return []
        if self.lagged:
            raise Lagged()
        if self.closed and not self._queue:
            return None
        batch = list(self._queue)
        self._queue.clear()
        return batch

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._feed.unsubscribe(self)


class Feed:
    def __init__(self, *, start: int, size: int = BUFFER) -> None:
        """`start`: the store's next sequence number when apsisd started; every change after `start - 1` is in
        the buffer until it overflows."""
        self._buffer: deque[Change] = deque()
        self._size = size
        self._floor = start - 1  # every change numbered above this is in the buffer
        self.last = start - 1  # the number of the latest change published
        self._subscribers: set[Subscription] = set()
        self.closed = False

    def publish_runs(self, first: int, runs: Sequence[Run], deleted: Sequence[RunId] = ()) -> None:
        """Runs just committed with sequence numbers from `first` on, then the runs deleted in the same commit."""
        changes = [Change(seq=first + index, after=first + index, run=run) for index, run in enumerate(runs)]
        after = first + len(runs)
        changes += [Change(seq=after + index, after=after + index, deleted=run_id)
                    for index, run_id in enumerate(deleted)]
        for change in changes:
            self._add(change)

    def publish_jobs(self, jobs: JobsChanged) -> None:
        self._add(Change(seq=None, after=self.last, jobs=jobs))

    def _add(self, change: Change) -> None:
        if change.seq is not None:
            self.last = max(self.last, change.seq)
        if self._buffer and change.key < self._buffer[-1].key:  # commits resumed out of order: keep the order
            items = list(self._buffer)
            bisect.insort(items, change, key=lambda item: item.key)
            self._buffer = deque(items)
        else:
            self._buffer.append(change)
        while len(self._buffer) > self._size:
            gone = self._buffer.popleft()
            self._floor = max(self._floor, gone.key[0])
        for subscriber in list(self._subscribers):
            subscriber.put(change)

    def covers(self, seq: int) -> bool:
        """Whether every change after `seq` is still in the buffer (and `seq` is not from the future)."""
        return self._floor <= seq <= self.last

    def since(self, seq: int) -> list[Change]:
        """The buffered changes after `seq`, in order (the jobs' changes that came after it included)."""
        return [change for change in self._buffer if change.key > (seq, 0)]

    def subscribe(self, limit: int = QUEUE) -> Subscription:
        subscription = Subscription(self, limit)
        if self.closed:
            subscription.closed = True
        else:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def close(self) -> None:
        """apsisd is stopping: every subscription ends (its clients resume from the next apsisd)."""
        self.closed = True
        for subscriber in list(self._subscribers):
            subscriber.close()

    def __len__(self) -> int:
        return len(self._buffer)
