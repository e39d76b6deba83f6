"""The runs in flight, in memory: every unfinished run by id and by job, and the scheduled ones by due time.

Finished runs leave the ledger (the store keeps them), so its size is the
work in hand, not the history. The due heap is lazy: an entry whose run
has since moved or been rescheduled is dropped when it comes up. Each
scheduled run has one live entry at most (`_queued` names it), so however
often it is put, forgotten or rescheduled, it is due once at its time.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from agentd.types import JobId, RunId
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State

TAKEN = -1  # the order of no heap entry


@dataclass(frozen=True, slots=True)
class Saved:
    """A run's place in the ledger at one moment (`run` None: not there), to put back if a change is undone."""

    run_id: RunId
    run: Run | None
    queued: tuple[datetime, int] | None


class Ledger:
    def __init__(self) -> None:
        self._runs: dict[RunId, Run] = {}
        self._by_job: dict[JobId, dict[RunId, Run]] = {}
        self._due: list[tuple[datetime, int, RunId]] = []
        # A scheduled run's time and the order of its live heap entry (TAKEN once popped: not due again then).
        self._queued: dict[RunId, tuple[datetime, int]] = {}
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, run_id: object) -> bool:
        """Whether the run is in flight (unfinished, and not withdrawn)."""
        return run_id in self._runs

    def all(self) -> list[Run]:
        return list(self._runs.values())

    def get(self, run_id: RunId) -> Run | None:
        return self._runs.get(run_id)

    def put(self, run: Run) -> None:
        """Record the run as it is now: kept while unfinished, dropped when finished; due when scheduled."""
        jobs = self._by_job.setdefault(run.job_id, {})
        if run.finished:
            self._queued.pop(run.id, None)
            self._runs.pop(run.id, None)
            jobs.pop(run.id, None)
            if not jobs:
                del self._by_job[run.job_id]
            return
        self._runs[run.id] = run
        jobs[run.id] = run
        if run.state is not State.SCHEDULED:
            self._queued.pop(run.id, None)
        elif (queued := self._queued.get(run.id)) is None or queued[0] != run.schedule_time:
            entry = (run.schedule_time, next(self._order), run.id)
            self._queued[run.id] = entry[:2]
            heapq.heappush(self._due, entry)

    def save(self, run_id: RunId) -> Saved:
        return Saved(run_id, self._runs.get(run_id), self._queued.get(run_id))

    def restore(self, saved: Saved) -> None:
        """The run put back as it was saved, due as it was then (taken stays taken: its taker tries again), or
        gone if it was not there: a change the store refused, undone."""
        self.forget(saved.run_id)
        run = saved.run
        if run is None:
            return
        self._runs[run.id] = run
        self._by_job.setdefault(run.job_id, {})[run.id] = run
        if saved.queued is not None:
            self._queued[run.id] = saved.queued
            if saved.queued[1] != TAKEN:  # its heap entry may have been dropped meanwhile: a twin is harmless
                heapq.heappush(self._due, (*saved.queued, run.id))

    def forget(self, run_id: RunId) -> None:
        """A run deleted from the store (a withdrawn future run)."""
        self._queued.pop(run_id, None)
        run = self._runs.pop(run_id, None)
        if run is not None:
            jobs = self._by_job[run.job_id]
            jobs.pop(run_id, None)
            if not jobs:
                del self._by_job[run.job_id]

    def active(self, job_id: JobId) -> Iterable[Run]:
        return list(self._by_job.get(job_id, {}).values())

    def scheduled_by_schedule(self, job_id: JobId) -> list[Run]:
        """The job's runs its schedules made that are waiting for their time."""
        return [run for run in self._by_job.get(job_id, {}).values()
                if run.state is State.SCHEDULED and run.origin is Origin.SCHEDULE]

    def next_due(self) -> datetime | None:
        """When the earliest scheduled run is due (entries of runs that moved are dropped on the way)."""
        while self._due:
            time, order, run_id = self._due[0]
            if self._queued.get(run_id) == (time, order):
                return time
            heapq.heappop(self._due)
        return None

    def due_again(self, run_id: RunId) -> None:
        """A scheduled run taken off the heap but left scheduled (its job was held) is due again at its time."""
        run = self._runs.get(run_id)
        queued = self._queued.get(run_id)
        if run is not None and run.state is State.SCHEDULED and queued is not None and queued[1] == TAKEN:
            del self._queued[run_id]
            self.put(run)

    def pop_due(self, now: datetime) -> list[Run]:
        """Every scheduled run due at or before `now`, in time order, taken off the heap."""
        found = []
        while (time := self.next_due()) is not None and time <= now:
            _, _, run_id = heapq.heappop(self._due)
            self._queued[run_id] = (time, TAKEN)
            found.append(self._runs[run_id])
        return found
