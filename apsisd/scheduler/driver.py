"""A run on its host: bound and started, followed to its end, stopped at its stop time or on request.

Starting is idempotent (the unit is named after the run), and the run is
committed as `starting`, with the spec it runs and the host it runs on,
before the host is asked: after a crash, a `starting` run is either found
on that host or started there then, never twice, never elsewhere.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from agentd.errors import HostError, RunNotFound, SpecError
from agentd.host import Finished, Host, Started
from agentd.types import RunId
from apsisd.errors import InvalidFields, StoreError
from apsisd.jobs.hosts import LOCAL
from apsisd.jobs.model import JobSet
from apsisd.jobs.program import bind
from apsisd.jobs.rendering import template_names
from apsisd.jobs.spec import program_spec
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.outcome import STOP_TIME_REASON, settle
from apsisd.scheduler.records import Records
from apsisd.scheduler.recovery_plan import ended_units
from apsisd.scheduler.routing import HostGone, Router
from apsisd.scheduler.store_health import RETRY

log = logging.getLogger("apsisd.scheduler")
FOLLOW_RETRY = 5.0  # seconds between attempts to follow a run when its host cannot be reached

Spawn = Callable[[Coroutine[Any, Any, object], str], None]


class Driver:
    def __init__(self, records: Records, router: Router, jobs: Callable[[], JobSet], spawn: Spawn) -> None:
        self.records = records
        self.router = router
        self.jobs = jobs
        self.spawn = spawn

    async def prepare(self, run: Run) -> Run | None:
        """The run bound, its host picked, and committed as `starting` (None if it could not be: then it is in
        error, or waits for its host to be configured again)."""
        job = self.jobs().jobs.get(run.job_id)
        job_host = None
        if run.spec is None:
            if job is None:
                if run.job_id in self.jobs().held:  # its file has problems: the run waits for a reload that reads it
                    return None
                await self.records.move(run.id, State.ERROR, f"job {run.job_id} is not loaded (removed?)")
                return None
            try:
                program = bind(job.program, template_names(run), self.jobs().calendars)
            except InvalidFields as exc:
                await self.records.move(run.id, State.ERROR, f"cannot bind the program to the args: {exc}")
                return None
            spec = program_spec(program, run.id, run.job_id)
            job_host = job.host
        else:
            spec = run.spec
        target = self.router.target(run, job_host)
        host = self.router.pick(target)
        if host is None:
            await self.host_gone(run.id, HostGone(target))
            return None
        return await self.records.move(run.id, State.STARTING, "starting" if host == LOCAL else f"starting on {host}",
                                       spec=spec, host=host)

    async def host_gone(self, run_id: RunId, gone: HostGone) -> None:
        """The run's host is not configured: it stays as it is, its log and apsisd's saying why."""
        log.warning("run %s: %s", run_id, gone, extra={"action": "run_host_gone"})
        await self.records.note(run_id, str(gone))

    def host_of(self, run: Run) -> Host:
        """The Host the run runs on; HostGone if it is no longer configured."""
        return self.router.host_of(run)

    async def start_on_host(self, run: Run, at: datetime | None = None) -> None:
        """Start the committed run on its host, now or (armed there) at `at`."""
        assert run.spec is not None
        try:
            await self.host_of(run).start(run.spec, at=at)
        except HostGone as exc:
            await self.host_gone(run.id, exc)
            return
        except SpecError as exc:
            await self.records.error(run.id, f"refused by the host: {exc}")
            return
        except HostError as exc:
            await self.records.error(run.id, f"could not start: {exc}")
            return
        self.follow(run.id)

    async def let_go_of_ended(self) -> None:
        """Let each host release the units still loaded of runs that have ended as far as the store knows
        (ended_units(), against the runs in flight when the host answers). Each is followed to its end, after
        which the host lets it go. A host that cannot be asked is passed over: its units wait for the next
        start."""
        for name, host in self.router.hosts.items():
            try:
                units = await host.list()
            except HostError as exc:
                log.warning("host %s: cannot list its units to let those of ended runs go: %s", name, exc,
                            extra={"action": "host_list_failed"})
                continue
            for unit in ended_units(units, self.records.ledger):
                log.info("run %s has ended and its unit %s is still loaded on %s; letting it go", unit.run_id,
                         unit.unit, name, extra={"action": "unit_let_go"})
                try:
                    async for _event in host.events(unit.run_id):
                        pass  # its end is recorded already
                except (HostError, RunNotFound) as exc:
                    log.warning("run %s: could not let its unit go: %s", unit.run_id, exc)

    def follow(self, run_id: RunId, *, restart_if_missing: bool = False) -> None:
        self.spawn(self._follow(run_id, restart_if_missing), f"follow:{run_id}")

    async def _follow(self, run_id: RunId, restart_if_missing: bool) -> None:
        """Turn the host's events for the run into its transitions, until it has ended."""
        while (run := self.records.ledger.get(run_id)) is not None:
            try:
                host = self.host_of(run)
                # Only what the host kept since this run was committed to start is this run's.
                async for event in host.events(run_id, since=run.times.get(State.STARTING)):
                    if isinstance(event, Started):
                        await self._started(run_id, event)
                    elif isinstance(event, Finished):
                        await self._finished(run_id, event)
                return
            except HostGone as exc:
                await self.host_gone(run_id, exc)
                return
            except RunNotFound:
                if restart_if_missing and run.state is State.STARTING and run.spec is not None:
                    await self.records.note(run_id, "no unit and no journal record: the start never reached "
                                                    "systemd; starting it now")
                    await self.start_on_host(run)
                    return
                await self.records.error(run_id, "the unit is gone and the journal has no record of it")
                return
            except HostError as exc:
                log.warning("run %s: cannot follow it on its host (%s); trying again in %g s", run_id, exc,
                            FOLLOW_RETRY, extra={"action": "run_follow_retry"})
                await asyncio.sleep(FOLLOW_RETRY)
            except StoreError as exc:  # what the host said is not recorded: it is asked again, and says it again
                log.warning("run %s: its change is not recorded (%s); following it again in %g s", run_id, exc,
                            RETRY, extra={"action": "store_retry"})
                await asyncio.sleep(RETRY)

    async def _started(self, run_id: RunId, event: Started) -> None:
        run = self.records.ledger.get(run_id)
        if run is None:
            return
        lateness = (event.start_time - run.schedule_time).total_seconds() if event.start_time else None
        facts = {"unit": event.unit, "invocation_id": event.invocation_id, "lateness": lateness}
        if run.state is State.STARTING:
            run = await self.records.move(run_id, State.RUNNING, f"running as {event.unit}", **facts)
        elif run.unit is None:
            run = await self.records.update(run_id, **facts)
        if run is not None and run.stop_time is not None and run.state is State.RUNNING:
            self.arm_stop_time(run_id)

    def arm_stop_time(self, run_id: RunId) -> None:
        self.spawn(self._stop_at(run_id), f"stop-time:{run_id}")

    async def _finished(self, run_id: RunId, event: Finished) -> None:
        run = self.records.ledger.get(run_id)
        if run is None:
            return
        state, reason, facts = settle(run, event)
        if run.unit is None and event.start_time is not None:
            facts["lateness"] = (event.start_time - run.schedule_time).total_seconds()
        await self.records.move(run_id, state, reason, **facts)

    async def _stop_at(self, run_id: RunId) -> None:
        run = self.records.ledger.get(run_id)
        if run is None or run.stop_time is None:
            return
        await self.records.clock.sleep_until(run.stop_time)
        await self.records.health.retrying(f"run {run_id} stopping", lambda: self.stop(run_id, STOP_TIME_REASON))

    async def stop(self, run_id: RunId, reason: str) -> None:
        """Move the run to stopping and have the host stop it (signal, grace period, then SIGKILL)."""
        if await self.records.move(run_id, State.STOPPING, reason) is not None:
            await self.resume_stop(run_id)

    async def resume_stop(self, run_id: RunId) -> None:
        run = self.records.ledger.get(run_id)
        if run is None:
            return
        try:
            await self.host_of(run).stop(run_id)
        except HostGone as exc:
            await self.host_gone(run_id, exc)
        except HostError as exc:
            await self.records.note(run_id, f"stop failed: {exc}")
