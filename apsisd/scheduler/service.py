"""The scheduler: jobs in, runs out. Creates runs up to each job's horizon, starts them when due, and reacts
to every change of a run (conditions to check again, actions, retries, more runs to create).

It is the one object the daemon and the API hold. It names no concrete
store or host: daemon/main.py hands them in, every host by its name
(`local`, apsisd's own, and those of apsisd.toml) with the host groups;
routing.py says which a run goes to.
"""
from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from agentd.host import Host
from agentd.spec import RunSpec
from agentd.tasks import TaskRoom
from agentd.types import JobId, RunId
from apsisd.clock import Clock, loop_delay
from apsisd.errors import StoreError
from apsisd.jobs.hosts import HostGroup
from apsisd.jobs.model import Job, JobSet
from apsisd.jobs.retry import next_attempt_delay, reason_class
from apsisd.jobs.scheduling import Scheduling
from apsisd.runs.jso import run_jso
from apsisd.runs.model import LogEntry, Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler.driver import Driver
from apsisd.scheduler.outages import Outages
from apsisd.scheduler.plan import expand
from apsisd.scheduler.records import Records
from apsisd.scheduler.routing import Router
from apsisd.scheduler.store_health import RETRY
from apsisd.scheduler.waiting import Waiter
from apsisd.store.base import Changes, Store

log = logging.getLogger("apsisd.scheduler")
PostJson = Callable[..., Awaitable[int]]
IDLE = timedelta(seconds=60)  # the loop looks again at least this often, whatever it expects
# A run without conditions is bound and committed as `starting` this long before it is due, and handed to the
# host to start on the instant (the local host arms it on a systemd timer): the commit, the call and systemd
# creating the unit are all off the path from due time to exec.
LEAD = timedelta(milliseconds=50)
Fired = tuple[RunId, State, int]  # an action fired by a transition: the run, the state it entered, the action's place


class Scheduler:
    def __init__(self, *, store: Store, hosts: Mapping[str, Host], clock: Clock, jobs: JobSet, defaults: Scheduling,
                 max_waiting: float | None, post_json: PostJson | None = None,
                 groups: Mapping[str, HostGroup] = MappingProxyType({}),
                 unreachable_after: Mapping[str, float] = MappingProxyType({})) -> None:
        self.records = Records(store, clock)
        self.ledger = self.records.ledger
        self.clock = clock
        self.router = Router(hosts, groups)
        self.jobs = jobs
        self.defaults = defaults
        self.post_json = post_json
        self.cursors: dict[JobId, datetime] = {}
        self.ready = asyncio.Event()  # set while run() schedules: what the API's health reports
        self._tasks = TaskRoom("scheduler")
        self._topups: list[tuple[datetime, JobId]] = []
        self._expanding: set[JobId] = set()
        self._wake = asyncio.Event()
        self.driver = Driver(self.records, self.router, lambda: self.jobs, self.spawn)
        self.waiter = Waiter(self.records, self.driver, lambda: self.jobs, max_waiting, self.spawn)
        self.outages = Outages(hosts, unreachable_after, self.records, clock)
        self.records.listeners.append(self._on_change)
        self.records.follow_ups = self._follow_ups
        self.records.has_actions = lambda run: bool(self._actions_for(run, run.state))

    def host_of(self, run: Run) -> Host:
        """The Host the run runs on (HostGone if it is no longer configured): what its output, signals and stop
        go to."""
        return self.router.host_of(run)

    @property
    def store_problem(self) -> str | None:
        """Why the state cannot be written now (what health reports); None while it can."""
        return self.records.health.problem

    # -- tasks ----------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, object], name: str) -> None:
        """Run `coro` as a named task in the scheduler's group; a failure is logged, never lost."""
        self._tasks.spawn(coro, name)

    async def close(self) -> None:
        """Stop every task; units on the host keep running (the next start follows them again)."""
        await self._tasks.close()

    # -- the loop -------------------------------------------------------------------------

    def policy(self, job: Job) -> Scheduling:
        return job.scheduling.over(self.defaults)

    async def run(self) -> None:
        """Start due runs on time and create more as time goes by, until cancelled; `ready` is set meanwhile."""
        for job_id in self.jobs.jobs:
            self.topup_soon(job_id)
        self.spawn(self._check_store(), "check-store")
        self.spawn(self.outages.run(), "host-outages")
        self.ready.set()
        try:
            await self._loop()
        finally:
            self.ready.clear()

    async def _loop(self) -> None:
        while True:
            now = self.clock.now()
            for run in self.ledger.pop_due(now + LEAD):
                self.spawn(self.begin(run), f"run:{run.id}")
            while self._topups and self._topups[0][0] <= now:
                _, job_id = heapq.heappop(self._topups)
                self.spawn(self.topup(job_id), f"topup:{job_id}")
            due = self.ledger.next_due()
            wake = min(x for x in (due - LEAD if due else None, self._topups[0][0] if self._topups else None,
                                   now + IDLE) if x is not None)
            self._wake.clear()
            try:
                async with asyncio.timeout(loop_delay((wake - self.clock.now()).total_seconds())):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _check_store(self) -> None:
        """While the store refuses writes, try one every RETRY seconds: health says ok again as soon as it takes
        one, even if nothing else was waiting to be written."""
        health = self.records.health
        while True:
            await health.failing.wait()
            await asyncio.sleep(RETRY)
            if health.problem is not None:
                try:
                    await self.records.store.check_writable()
                except StoreError:
                    continue
                health.written()

    def wake(self) -> None:
        self._wake.set()

    def topup_soon(self, job_id: JobId, at: datetime | None = None) -> None:
        heapq.heappush(self._topups, (at or self.clock.now(), job_id))
        self.wake()

    async def topup(self, job_id: JobId) -> None:
        """Create the job's runs up to its horizon (or its max_scheduled), from its cursor on."""
        job = self.jobs.jobs.get(job_id)
        if job is None or job_id in self._expanding:
            return
        self._expanding.add(job_id)
        try:
            await self._topup(job, job_id)
        except StoreError as exc:
            log.warning("job %s: its next runs are not recorded (%s); trying again in %g s", job_id, exc, RETRY,
                        extra={"action": "store_retry"})
            self.topup_soon(job_id, self.clock.now() + timedelta(seconds=RETRY))
        finally:
            self._expanding.discard(job_id)

    async def _topup(self, job: Job, job_id: JobId) -> None:
        """Create the job's runs up to its horizon, from its cursor on (StoreError if they are not recorded)."""
        now = self.clock.now()
        cursor = self.cursors.get(job_id, now)  # behind now only if the loop was held up: those start late
        policy = self.policy(job)
        plan = expand(job, policy, cursor, now, len(self.ledger.scheduled_by_schedule(job_id)))
        if plan.dues or plan.cursor != self.cursors.get(job_id):
            drafts = [self.records.draft(job_id, due.args, due.time, origin=Origin.SCHEDULE,
                                         reason="scheduled by the job's schedule", stop_time=due.stop)
                      for due in plan.dues]
            await self.apply(drafts, cursors={job_id: plan.cursor})
            self.wake()
        if not plan.capped and plan.next_due is not None:
            assert policy.horizon is not None
            self.topup_soon(job_id, plan.next_due - timedelta(seconds=policy.horizon))

    async def apply(self, drafts: Sequence[tuple[Run, LogEntry]], *, deleted: Sequence[RunId] = (),
                    cursors: Mapping[JobId, datetime | None], moved: Sequence[tuple[Run, LogEntry]] = ()) -> None:
        """New, withdrawn and moved runs with the jobs' new cursors (None forgets one), in memory and in one
        commit: what an expansion, a reload and a recovery each decide. StoreError if the store refuses it: then
        nothing changed, in memory either."""
        before = {job_id: self.cursors.get(job_id) for job_id in cursors}
        self._set_cursors(cursors)
        try:
            await self.records.add(drafts, deleted=deleted, cursors=cursors, moved=moved)
        except StoreError:
            self._set_cursors({job_id: cursor for job_id, cursor in before.items()
                               if self.cursors.get(job_id) == cursors[job_id]})  # unless changed since
            raise

    def _set_cursors(self, cursors: Mapping[JobId, datetime | None]) -> None:
        for job_id, cursor in cursors.items():
            if cursor is None:
                self.cursors.pop(job_id, None)
            else:
                self.cursors[job_id] = cursor

    async def begin(self, run: Run) -> None:
        """A scheduled run is (all but) due: wait for its conditions at its time, or commit it as starting now
        and start it at its time."""
        job = self.jobs.job_of(run)
        retrying = self.records.health.retrying
        if job is not None and job.conditions and run.spec is None:
            await self.clock.sleep_until(run.schedule_time)
            await retrying(f"run {run.id} waiting", lambda: self.waiter.enter(run, job))
            return
        # Not started until recorded as starting: while the store refuses that, the run waits (and starts late).
        prepared = await retrying(f"run {run.id} starting", lambda: self.driver.prepare(run))
        if prepared is not None:
            await self.driver.start_on_host(prepared, at=run.schedule_time)

    # -- creating runs --------------------------------------------------------------------

    async def create(self, job_id: JobId, args: Mapping[str, str], *, origin: Origin, reason: str,
                     at: datetime | None = None, spec_of: Callable[[RunId], RunSpec] | None = None,
                     made_by: Fired | None = None, **fields: Any) -> Run:
        """A new run of the job, scheduled at `at` (now by default); `spec_of` fixes its program now (an ad hoc
        run's, which no job file gives), from the run's id; `made_by`, the action that makes it, is marked as run
        in the same commit."""
        run, entry = self.records.draft(job_id, args, at or self.clock.now(), origin=origin, reason=reason, **fields)
        draft = (replace(run, spec=spec_of(run.id)), entry) if spec_of is not None else (run, entry)
        await self.records.add([draft], ran=[made_by] if made_by is not None else ())
        self.wake()
        return draft[0]

    # -- reacting to changes --------------------------------------------------------------

    def _on_change(self, old: Run | None, new: Run) -> None:
        if old is not None and old.state is State.WAITING and new.state is not State.WAITING:
            self.waiter.forget(new.id)
        if old is None or old.state is not new.state:
            self.waiter.changed(new.job_id)
            if self.jobs.job_of(new) is None:
                return
            if old is not None and old.state is State.SCHEDULED and new.origin is Origin.SCHEDULE:
                self.topup_soon(new.job_id)  # room for one more under max_scheduled
            if self._actions_for(new, new.state):
                self.spawn(self.act(new, new.state), f"actions:{new.id}:{new.state}")

    def _actions_for(self, run: Run, state: State) -> list[tuple[int, Any]]:
        """The job's actions for the run's entering `state`, each with its place in the job's actions."""
        job = self.jobs.job_of(run)
        return [] if job is None else [(place, action) for place, action in enumerate(job.actions)
                                       if state in action.states]

    async def act(self, run: Run, state: State, ran: frozenset[int] = frozenset()) -> None:
        """Run the job's actions for the run's entering `state`, less those marked as run before a crash (`ran`),
        then cross them off the actions owed. A crash before that makes them run again on the next start: a
        `schedule` action exactly once (its run is committed with its mark), the others at least once (a webhook
        may be posted twice)."""
        async with asyncio.TaskGroup() as group:  # _act catches what an action raises: none cancels another
            for place, action in self._actions_for(run, state):
                if place not in ran:
                    group.create_task(self._act(action, run, (run.id, state, place)),
                                      name=f"action:{run.id}:{state}:{place}")
        await self.records.health.retrying(f"run {run.id}: actions on {state} done", lambda: self.records.commit(
            Changes(actions_done=[(run.id, state)])))

    async def _act(self, action: Any, run: Run, fired: Fired) -> None:
        try:
            await action(run, ActionContext(self, fired))
        except Exception as exc:  # an action never changes the run: it only says what went wrong
            log.warning("run %s: action %s failed: %s", run.id, action.type_name, exc,
                        extra={"action": "action_failed"})
            await self.records.note(run.id, f"action {action.type_name} failed: {exc}")

    def _follow_ups(self, old: Run, new: Run) -> tuple[list[tuple[Run, LogEntry]], list[LogEntry]]:
        """The retry a failed attempt calls for, made in the same commit as the failure: a crash between the
        two cannot lose it (a run's end is never looked at again once committed)."""
        job = self.jobs.job_of(new)
        if job is None or job.retry is None or new.state not in (State.FAILURE, State.ERROR):
            return [], []
        kind = reason_class(new)
        if kind is None or kind not in job.retry.on or State.STOPPING in new.times:
            return [], []  # a run that was stopped (on request, or at its stop time) ended as asked: not retried
        now = self.clock.now()
        delay = next_attempt_delay(job.retry, new.attempt)
        if delay is None:
            return [], [LogEntry(run_id=new.id, time=now, message=f"no retry: all {job.retry.count} retries used")]
        draft = self.records.draft(new.job_id, new.args, now + timedelta(seconds=delay), origin=Origin.RETRY,
                                   previous=new.id, attempt=new.attempt + 1,
                                   reason=f"retry {new.attempt} of {new.id} ({kind}), in {delay:g} s")
        self.wake()
        return [draft], [LogEntry(run_id=new.id, time=now, message=f"{kind}: retrying as {draft[0].id} in "
                                                                    f"{delay:g} s")]


class ActionContext:
    """What one action, fired by one transition, may do: schedule a run (committed with the action's mark: once,
    even across a crash), note on runs, post JSON (through the daemon's HTTP client)."""

    def __init__(self, scheduler: Scheduler, fired: Fired) -> None:
        self._scheduler = scheduler
        self._fired = fired
        self.calendars = scheduler.jobs.calendars

    def params_of(self, job_id: JobId) -> tuple[str, ...] | None:
        return self._scheduler.jobs.params_of(job_id)

    async def schedule(self, job_id: JobId, args: Mapping[str, str], *, source: Run) -> Run:
        return await self._scheduler.create(job_id, args, origin=Origin.ACTION, previous=source.id,
                                            reason=f"scheduled by an action of {source.id}", made_by=self._fired)

    async def note(self, run_id: RunId, message: str) -> None:
        await self._scheduler.records.note(run_id, message)

    async def post_json(self, url: str, body: Any, *, headers: Mapping[str, str]) -> int:
        if self._scheduler.post_json is None:
            raise OSError("this apsisd has no HTTP client")
        return await self._scheduler.post_json(url, body, headers=headers)

    def run_json(self, run: Run) -> dict[str, Any]:
        return run_jso(run)
