"""A scheduler on the fake host (tests/fakes/host.py), a moving clock and a store in a temp folder: what the unit
tests of the service, driver, recovery, waiting and reload run on, as apsisd runs them (recover, then run()).

Nothing here waits on the wall clock: time moves when the test moves it
(Rig.move_to), and a test waits for a condition (Rig.until...), looked at
again on each change the scheduler announces, each commit, each start the
host is asked for and each end it has told, under the test's deadline
(TIMEOUT).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from typing import Any, cast

from agentd.host import HostEvent, StartResult, UnitState
from agentd.spec import RunSpec
from agentd.systemd.units import unit_name
from agentd.types import JobId, RunId
from apsisd.jobs.hosts import LOCAL, HostGroup
from apsisd.jobs.load import read_jobs
from apsisd.jobs.scheduling import DEFAULTS
from apsisd.runs.model import LogEntry, Run
from apsisd.runs.state import State
from apsisd.scheduler.recovery import recover
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import Changes, Store
from apsisd.store.sqlite import SqliteStore
from tests.fakes.host import FakeHost
from tests.unit.scheduler.fake_clock import MovingClock

START = datetime(2026, 12, 1, 11, 59, 30, tzinfo=UTC)
TIMEOUT = 10.0  # seconds for a whole test: each wait is for something the test has just made happen


class RigHost(FakeHost):
    """FakeHost that also tells the rig of each start it is asked for (`starts`: run and `at`, in order) and of
    each end it has told; that can be made to refuse starts (`refusal`); and that can keep ended units loaded
    until their end is told, as a host whose apsisd died before letting them go (`keeps_ended`: list() shows
    them `failed`)."""

    def __init__(self, clock: MovingClock, poke: Callable[[], None]) -> None:
        super().__init__(now=clock.now)
        self.starts: list[tuple[RunId, datetime | None]] = []
        self.refusal: Exception | None = None
        self.keeps_ended = False
        self._poke = poke

    async def start(self, spec: RunSpec, *, at: datetime | None = None) -> StartResult:
        self.starts.append((spec.run_id, at))
        try:
            if self.refusal is not None:
                raise self.refusal
            return await super().start(spec, at=at)
        finally:
            self._poke()

    async def events(self, run_id: RunId, *, since: datetime | None = None) -> AsyncIterator[HostEvent]:
        async for event in super().events(run_id, since=since):
            yield event
        self._poke()  # its end told: its unit let go

    async def list(self) -> list[UnitState]:
        units = await super().list()
        if self.keeps_ended:
            units.extend(UnitState(run_id=run_id, unit=unit_name(run_id), active_state="failed", sub_state="failed")
                         for run_id, run in self.runs.items() if run.finished is not None and not run.told)
        return units


class PokingStore:
    """The store, poking the rig after each commit: a line in a run's log (a waiting run's verdict) is committed,
    not announced."""

    def __init__(self, store: Store, poke: Callable[[], None]) -> None:
        self._store = store
        self._poke = poke

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def commit(self, changes: Changes) -> int:
        try:
            return await self._store.commit(changes)
        finally:
            self._poke()


@dataclass
class Rig:
    """One apsisd, its hosts, its clock and its store; `folder` holds its job files.

    `host` is apsisd's own (local); `remotes` names the other hosts, each a RigHost of its own in `hosts`,
    `groups` the host groups over them: what apsisd.toml would configure. configure() changes them, as an
    apsisd.toml edited before a restart (new_scheduler)."""

    folder: Path
    store: SqliteStore
    clock: MovingClock
    remotes: tuple[str, ...] = ()
    groups: Mapping[str, HostGroup] = field(default_factory=dict)
    host: RigHost = field(init=False)
    hosts: dict[str, RigHost] = field(init=False)
    scheduler: Scheduler = field(init=False)
    max_waiting: float | None = None
    _moved: asyncio.Event = field(default_factory=asyncio.Event)
    _loop: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.host = RigHost(self.clock, self.poke)
        self.hosts = {LOCAL: self.host, **{name: RigHost(self.clock, self.poke) for name in self.remotes}}
        self.scheduler = self.new_scheduler()

    def configure(self, remotes: tuple[str, ...], groups: Mapping[str, HostGroup] | None = None) -> None:
        """The hosts and groups the next new_scheduler() is given; a host dropped keeps its units (and its
        RigHost, in `hosts`), as a machine taken out of apsisd.toml goes on running them."""
        self.remotes = remotes
        self.groups = groups or {}
        for name in remotes:
            self.hosts.setdefault(name, RigHost(self.clock, self.poke))

    def configured(self) -> dict[str, RigHost]:
        return {name: host for name, host in self.hosts.items() if name == LOCAL or name in self.remotes}

    def new_scheduler(self) -> Scheduler:
        """A scheduler on this rig's store, configured hosts and clock, with the job files as they read now (an
        apsisd started again: its predecessor's tasks are closed first)."""
        store = cast(Store, PokingStore(self.store, self.poke))
        names = frozenset((*self.configured(), *self.groups))
        scheduler = Scheduler(store=store, hosts=self.configured(), clock=self.clock,
                              jobs=read_jobs(self.folder, host_names=names), defaults=DEFAULTS,
                              max_waiting=self.max_waiting, groups=self.groups)
        scheduler.records.listeners.append(lambda old, new: self.poke())
        return scheduler

    async def start(self, since: datetime | None = None) -> None:
        """As apsisd starts: recover, then the loop."""
        await recover(self.scheduler, since)
        self._loop = asyncio.create_task(self.scheduler.run(), name="scheduler")

    async def stop(self) -> None:
        """As apsisd stops (or dies): its tasks end, the host's units go on."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        await self.scheduler.close()

    def poke(self) -> None:
        """Something changed: whoever waits in until() looks again."""
        self._moved.set()
        self._moved = asyncio.Event()

    async def until(self, holds: Callable[[], bool]) -> None:
        while not holds():
            await self._moved.wait()

    async def until_logged(self, run_id: RunId, message: Callable[[str], bool]) -> None:
        """Until a line of the run's log says what `message` looks for."""
        while True:
            moved = self._moved  # taken before the read: a commit made while it reads wakes the wait
            if any(message(entry.message) for entry in await self.log(run_id)):
                return
            await moved.wait()

    async def until_state(self, run_id: RunId, *states: State) -> Run:
        """The run once it is in one of `states`."""
        run = await self.scheduler.records.until(run_id, lambda run: run.state in states)
        assert run is not None, f"run {run_id} was withdrawn"
        return run

    def move_to(self, at: datetime) -> None:
        """Time passes up to `at`: sleeps end, armed runs start on the host, the loop looks at what is due."""
        self.clock.move_to(at)
        for host in self.hosts.values():
            host.start_due()
        self.scheduler.wake()

    def scheduled(self, job_id: str) -> list[Run]:
        """The job's scheduled runs in memory, in time order."""
        return sorted(self.scheduler.ledger.scheduled_by_schedule(JobId(job_id)), key=lambda run: run.schedule_time)

    def write_job(self, job_id: str, text: str) -> None:
        write_job(self.folder, job_id, text)

    async def log(self, run_id: RunId) -> list[LogEntry]:
        return await self.store.log(run_id)

    async def seed(self, runs: list[Run], cursors: Mapping[JobId, datetime] | None = None) -> None:
        """What a predecessor left in the store."""
        await self.store.commit(Changes(runs=runs, cursors=dict(cursors or {})))


def write_job(folder: Path, job_id: str, text: str) -> None:
    path = folder / f"{job_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)  # a job in a folder (etl/load)
    path.write_text(dedent(text))


def on_rig(tmp_path: Path, jobs: Mapping[str, str], test: Callable[[Rig], Awaitable[Any]], *,
           max_waiting: float | None = None, at: datetime = START, remotes: tuple[str, ...] = (),
           groups: Mapping[str, HostGroup] | None = None) -> None:
    """Run `test` on a fresh rig with these job files (id -> YAML) at `at`, within TIMEOUT; the rig stopped after.
    `remotes` and `groups`: the hosts besides local, and the groups of hosts, apsisd.toml would configure."""
    folder = tmp_path / "jobs"
    folder.mkdir()

    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "apsis.db")
        try:
            for job_id, text in jobs.items():
                write_job(folder, job_id, text)
            rig = Rig(folder=folder, store=store, clock=MovingClock(at), max_waiting=max_waiting, remotes=remotes,
                      groups=groups or {})
            try:
                async with asyncio.timeout(TIMEOUT):
                    await test(rig)
            finally:
                await rig.stop()
        finally:
            await store.close()

    asyncio.run(main())
