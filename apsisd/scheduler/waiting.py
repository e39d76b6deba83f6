"""Runs in `waiting`: their conditions bound, checked again when a run of a watched job moves, and timed out.

Checks are made one run at a time under one lock, and a run whose
conditions all hold is committed as `starting` before the lock is let go:
two runs waiting on `max_running: 1` cannot both see a free slot.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta

from agentd.types import JobId, RunId
from apsisd.conditions.base import BoundCondition, Settle, Wait
from apsisd.errors import ApsisError, StoreError
from apsisd.jobs.model import Job, JobSet
from apsisd.runs.model import Run, run_number
from apsisd.runs.state import State
from apsisd.scheduler.driver import Driver, Spawn
from apsisd.scheduler.records import Records
from apsisd.scheduler.store_health import RETRY
from apsisd.store.base import RunQuery

log = logging.getLogger("apsisd.scheduler")


class Waiter:
    def __init__(self, records: Records, driver: Driver, jobs: Callable[[], JobSet], max_time: float | None,
                 spawn: Spawn) -> None:
        self.records = records
        self.driver = driver
        self.jobs = jobs
        self.max_time = max_time
        self.spawn = spawn
        self._bound: dict[RunId, tuple[BoundCondition, ...]] = {}
        self._watchers: dict[JobId, set[RunId]] = {}
        self._pending: set[RunId] = set()
        self._said: dict[RunId, str] = {}
        self._lock = asyncio.Lock()

    # -- what conditions see (RunView) and know of the jobs (Jobs) -----------

    def active(self, job_id: JobId) -> Iterable[Run]:
        return self.records.ledger.active(job_id)

    async def latest(self, job_id: JobId, args: Mapping[str, str], states: frozenset[State]) -> Run | None:
        wanted = dict(args)
        for run in sorted(self.records.ledger.active(job_id), key=lambda r: -run_number(r.id)):
            if run.state in states and dict(run.args) == wanted:
                return run  # in flight: the ledger is ahead of the store by at most a commit
        found = await self.records.store.runs(RunQuery(job_id=job_id, args=wanted, exact_args=True, states=states,
                                                       limit=1))
        return found[0] if found else None

    def params_of(self, job_id: JobId) -> tuple[str, ...] | None:
        return self.jobs().params_of(job_id)

    # -- the life of a waiting run ------------------------------------------------

    async def enter(self, run: Run, job: Job, *, resumed: bool = False) -> None:
        """Bind the job's conditions to the run, commit `waiting` (unless resumed after a restart), check them."""
        bound: list[BoundCondition] = []
        for index, condition in enumerate(job.conditions):
            try:
                bound.append(condition.bind(run, self, self.jobs().calendars))
            except ApsisError as exc:
                await self.records.move(run.id, State.ERROR, f"condition[{index}] ({condition.type_name}): {exc}")
                return
        if not resumed:
            text = "; ".join(each.describe() for each in bound)
            moved = await self.records.move(run.id, State.WAITING, f"waiting until: {text}")
            if moved is None:
                return
            run = moved
        self._bound[run.id] = tuple(bound)
        for each in bound:
            for job_id in each.watches():
                self._watchers.setdefault(job_id, set()).add(run.id)
        if self.max_time is not None:
            self.spawn(self._deadline(run), f"wait-deadline:{run.id}")
        self.poke(run.id)

    def poke(self, run_id: RunId) -> None:
        """Check the run's conditions again soon (once, however many times it is poked meanwhile)."""
        if run_id not in self._pending:
            self._pending.add(run_id)
            self.spawn(self._evaluate(run_id), f"wait-check:{run_id}")

    def changed(self, job_id: JobId) -> None:
        """A run of `job_id` moved: every run watching that job is checked again."""
        for run_id in list(self._watchers.get(job_id, ())):
            self.poke(run_id)

    def forget(self, run_id: RunId) -> None:
        """The run left `waiting` (started, skipped, errored)."""
        for condition in self._bound.pop(run_id, ()):
            for job_id in condition.watches():
                watchers = self._watchers.get(job_id)
                if watchers is not None:
                    watchers.discard(run_id)
                    if not watchers:
                        del self._watchers[job_id]
        self._said.pop(run_id, None)

    async def _evaluate(self, run_id: RunId) -> None:
        try:
            started = await self._decide(run_id)
        except StoreError as exc:
            log.warning("run %s: the verdict of its conditions is not recorded (%s); checking them again in %g s",
                        run_id, exc, RETRY, extra={"action": "store_retry"})
            await asyncio.sleep(RETRY)
            self.poke(run_id)
            return
        if started is not None:
            await self.driver.start_on_host(started)

    async def _decide(self, run_id: RunId) -> Run | None:
        """The run's conditions checked: the run committed as starting (to start on its host), or None."""
        async with self._lock:
            self._pending.discard(run_id)
            run = self.records.ledger.get(run_id)
            if run is None or run.state is not State.WAITING or run_id not in self._bound:
                return None
            for condition in self._bound[run_id]:
                verdict = await condition.check(run, self)
                if isinstance(verdict, Wait):
                    if self._said.get(run_id) != verdict.reason:
                        self._said[run_id] = verdict.reason
                        await self.records.note(run_id, f"waiting: {verdict.reason}")
                    return None
                if isinstance(verdict, Settle):
                    await self.records.move(run_id, verdict.state, verdict.reason)
                    return None
            return await self.driver.prepare(run)

    async def _deadline(self, run: Run) -> None:
        assert self.max_time is not None
        since = run.times.get(State.WAITING, run.schedule_time)
        await self.records.clock.sleep_until(since + timedelta(seconds=self.max_time))
        current = self.records.ledger.get(run.id)
        if current is not None and current.state is State.WAITING:
            what = self._said.get(run.id) or "its conditions"
            await self.records.error(
                run.id, f"waited longer than the maximum waiting time ({self.max_time:g} s) for: {what}")
