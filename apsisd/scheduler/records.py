"""Every change to a run goes through here: checked against the state table, put in memory, committed, announced.

The order is the rule of the house: the ledger first (so that nothing
else sees the run's old state once its change is decided), then the store
(the change is durable), and only then do listeners act on it (start a
unit, run an action, wake a waiting run). Nothing acts on a change that a
crash could take back. What is committed is also published on the feed
(with the sequence numbers the store gave it), for the live stream.

If the store refuses the change (StoreError: the disk is full, say), the
ledger is put back as it was, so memory never holds what the store does
not; the error goes to the caller, and `health` says the state cannot be
written until a write succeeds. A run has one change in the air at a
time: a change to a run whose last one is being committed waits for that
commit, so that undoing one never undoes another made on top of it.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from agentd.types import JobId, RunId
from apsisd.clock import Clock
from apsisd.errors import StoreError, UnknownRun
from apsisd.runs.model import LogEntry, Origin, Run, mark, transition
from apsisd.runs.state import TRANSITIONS, State
from apsisd.scheduler.feed import Feed
from apsisd.scheduler.ledger import Ledger, Saved
from apsisd.scheduler.plan import NewRun
from apsisd.scheduler.store_health import StoreHealth
from apsisd.store.base import Changes, Store

log = logging.getLogger("apsisd.scheduler")

Listener = Callable[[Run | None, Run], None]
# What a change brings with it, committed in the same transaction: new runs (a retry) and log lines.
FollowUps = Callable[[Run, Run], tuple[list[tuple[Run, LogEntry]], list[LogEntry]]]


class Records:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.ledger = Ledger()
        self.feed = Feed(start=store.next_seq)
        self.listeners: list[Listener] = []
        self.follow_ups: FollowUps | None = None
        self.has_actions: Callable[[Run], bool] = lambda run: False  # a run in this state owes actions
        self._watches: dict[RunId, list[Callable[[Run | None], None]]] = {}
        self._committing: dict[RunId, asyncio.Event] = {}  # runs with a change in the air: set once it lands
        self.health = StoreHealth()

    async def error(self, run_id: RunId, reason: str) -> Run | None:
        """The run moved to ERROR, however long the store refuses it: a run nothing else will look at again
        (its host has nothing more to say) must not stay in a state that promises more."""
        return await self.health.retrying(f"run {run_id} in error", lambda: self.move(run_id, State.ERROR, reason))

    async def move(self, run_id: RunId, state: State, reason: str = "", **changes: Any) -> Run | None:
        """The run moved to `state` and committed; None (nothing done) when the run is no longer where that
        move starts from: another path got there first (a stop racing the end, an operator's skip)."""
        await self._landed([run_id])
        old = self.ledger.get(run_id)
        if old is None or state not in TRANSITIONS[old.state]:
            log.debug("run %s: not moving to %s (now %s)", run_id, state, old.state if old else "finished")
            return None
        new, entry = transition(old, state, self.clock.now(), reason, **changes)
        drafts, notes = self.follow_ups(old, new) if self.follow_ups is not None else ([], [])
        written = [new, *(draft for draft, _ in drafts)]
        saved = self._put(written)
        first = await self._commit(Changes(runs=written, log=[entry, *(line for _, line in drafts), *notes],
                                           actions_owed=self._owed(written)), saved)
        self.feed.publish_runs(first, written)
        log.info("run %s %s: %s", run_id, state, entry.message, extra={"action": f"run_{state}"})
        self._announce(old, new)
        for draft, _ in drafts:
            self._announce(None, draft)
        return new

    async def update(self, run_id: RunId, **changes: Any) -> Run | None:
        """New facts about the run (its unit, its lateness) without a change of state."""
        await self._landed([run_id])
        old = self.ledger.get(run_id)
        if old is None:
            return None
        new = replace(old, **changes)
        saved = self._put([new])
        self.feed.publish_runs(await self._commit(Changes(runs=[new]), saved), [new])
        self._announce(old, new)
        return new

    async def mark(self, run: Run, state: State, reason: str) -> Run:
        """A finished run recorded as another finished state (TransitionError unless both are finished)."""
        marked, entry = mark(run, state, self.clock.now(), reason)
        self.feed.publish_runs(await self._commit(Changes(runs=[marked], log=[entry]), []), [marked])
        log.info("run %s marked %s: %s", run.id, state, reason, extra={"action": "run_marked"})
        return marked

    async def note(self, run_id: RunId, message: str) -> None:
        """A line in the run's log that is not a change of state; one the store refuses is in apsisd's log only
        (it changes nothing, and what it notes must go on)."""
        try:
            await self._commit(Changes(log=[LogEntry(run_id=run_id, time=self.clock.now(), message=message)]), [])
        except StoreError as exc:
            log.warning("run %s: %s (not in the run's log: %s)", run_id, message, exc,
                        extra={"action": "note_not_recorded"})

    async def commit(self, changes: Changes) -> None:
        """`changes` that touch no run in memory (actions crossed off), committed; StoreError if refused."""
        await self._commit(changes, [])

    def draft(self, job_id: JobId, args: Mapping[str, str], time: datetime, *, origin: Origin,
              state: State = State.SCHEDULED, reason: str, at: datetime | None = None,
              **fields: Any) -> tuple[Run, LogEntry]:
        """A new run in `state` (scheduled, or skipped for a missed run), not yet committed; entering it `at`
        (default now): one decision's runs share its instant, as the runs it moves do."""
        (run_id,) = self.store.new_ids(1)
        now = at or self.clock.now()
        run = Run(id=run_id, job_id=job_id, args=MappingProxyType(dict(args)), state=state, schedule_time=time,
                  times=MappingProxyType({state: now}), origin=origin, reason=reason, **fields)
        return run, LogEntry(run_id=run_id, time=now, message=reason, state=state)

    def drafts(self, new: Iterable[NewRun], at: datetime) -> list[tuple[Run, LogEntry]]:
        """The runs of a job's schedules that a plan made `at` calls for, drafted in its order (their ids follow
        it), each entering its state at the plan's instant."""
        return [self.draft(each.job_id, each.args, each.time, origin=Origin.SCHEDULE, state=each.state,
                           reason=each.reason, stop_time=each.stop_time, at=at) for each in new]

    async def add(self, drafts: Sequence[tuple[Run, LogEntry]], *, deleted: Sequence[RunId] = (),
                  cursors: Mapping[JobId, datetime | None] | None = None, moved: Sequence[tuple[Run, LogEntry]] = (),
                  ran: Sequence[tuple[RunId, State, int]] = ()) -> None:
        """New runs, withdrawn ones and moved ones, with cursors and the actions that made them marked as `ran`
        (Changes.actions_ran), in one commit; then announced."""
        await self._landed([*deleted, *(run.id for run, _ in moved)])
        olds = [self.ledger.get(run.id) for run, _ in moved]
        saved = [self.ledger.save(run_id) for run_id in deleted]
        for run_id in deleted:
            self.ledger.forget(run_id)
        written = [run for run, _ in (*drafts, *moved)]
        saved.extend(self._put(written))
        first = await self._commit(Changes(runs=written, log=[entry for _, entry in (*drafts, *moved)],
                                           deleted=list(deleted), cursors=MappingProxyType(dict(cursors or {})),
                                           actions_ran=ran,
                                           actions_owed=self._owed([
                                               *(run for run, _ in drafts),
                                               *(run for old, (run, _) in zip(olds, moved, strict=True)
                                                 if old is None or old.state is not run.state)])), saved)
        self.feed.publish_runs(first, written, deleted)
        for run, _ in drafts:
            self._announce(None, run)
        for old, (run, _) in zip(olds, moved, strict=True):
            self._announce(old, run)
        for run_id in deleted:
            for see in self._watches.get(run_id, ()):
                see(None)

    async def until(self, run_id: RunId, condition: Callable[[Run], bool]) -> Run | None:
        """The run as soon as `condition` holds for it (at once if it does now), waiting on its changes as they
        are announced; None if the run is withdrawn first (a reload deleted it, or it was never recorded)."""
        found: asyncio.Future[Run | None] = asyncio.get_running_loop().create_future()

        def see(run: Run | None) -> None:
            if not found.done() and (run is None or condition(run)):
                found.set_result(run)

        watches = self._watches.setdefault(run_id, [])
        watches.append(see)  # before reading the run: a change made while the store is read is seen
        try:
            try:
                see(self.ledger.get(run_id) or await self.store.get(run_id))
            except UnknownRun:
                see(None)
            return await found
        finally:
            watches.remove(see)
            if not watches:
                del self._watches[run_id]

    async def _landed(self, run_ids: Sequence[RunId]) -> None:
        """Until none of these runs has a change in the air (no wait when none has: the usual case)."""
        while pending := [self._committing[run_id] for run_id in run_ids if run_id in self._committing]:
            await pending[0].wait()

    def _put(self, runs: Sequence[Run]) -> list[Saved]:
        """The runs put in the ledger; how it held them before, to undo it."""
        saved = [self.ledger.save(run.id) for run in runs]
        for run in runs:
            self.ledger.put(run)
        return saved

    async def _commit(self, changes: Changes, saved: Sequence[Saved]) -> int:
        """`changes` committed (the first sequence number), the ledger already holding them; if the store
        refuses them, the ledger put back as `saved` and StoreError raised. Cancelled, the changes may still be
        committed (the store does not withdraw them): the ledger keeps them, as before."""
        landed = asyncio.Event()
        for each in saved:
            self._committing[each.run_id] = landed
        try:
            first = await self.store.commit(changes)
        except StoreError as exc:
            for each in reversed(saved):
                self.ledger.restore(each)
            self.health.refused(exc, self.clock.now())
            raise
        finally:
            for each in saved:
                if self._committing.get(each.run_id) is landed:
                    del self._committing[each.run_id]
            landed.set()
        self.health.written()
        return first

    def _owed(self, runs: Sequence[Run]) -> list[tuple[RunId, State]]:
        """The actions these runs' states call for, recorded as owed in the commit that makes the states."""
        return [(run.id, run.state) for run in runs if self.has_actions(run)]

    def _announce(self, old: Run | None, new: Run) -> None:
        for see in self._watches.get(new.id, ()):
            see(new)
        for listener in self.listeners:
            try:
                listener(old, new)
            except Exception:
                log.exception("run %s: a listener failed on %s", new.id, new.state)
