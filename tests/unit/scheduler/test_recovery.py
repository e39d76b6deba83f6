"""Recovery and reload with jobs held: a job whose file has problems at start keeps its runs and cursor as stored
(nothing withdrawn, caught up or started; what is on the host followed), and the reload that reads the file
again takes it up as a start would; a job whose file is gone is removed, then as ever. Against a real store."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import cast

import pytest

from agentd.errors import RunNotFound
from agentd.host import HostEvent
from agentd.types import JobId, RunId
from apsisd.errors import StoreError, UnknownRun
from apsisd.jobs.load import load_jobs, read_jobs
from apsisd.jobs.scheduling import DEFAULTS
from apsisd.runs.model import Origin, Run
from apsisd.runs.skips import job_not_loaded
from apsisd.runs.state import State
from apsisd.scheduler.recovery import recover
from apsisd.scheduler.reload import Reloader
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import Changes, RunQuery, Store
from apsisd.store.sqlite import SqliteStore
from tests.unit.scheduler.fake_clock import SetClock

START = datetime(2026, 12, 1, 12, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
GOOD = 'schedule: {type: interval, interval: 1h}\nprogram: "true"\n'
FIXED = 'schedule: {type: interval, interval: 1h}\nprogram: "true"\nscheduling: {catchup: all}\n'
BROKEN = 'schedule: {type: interval, interval: 1h}\nprogram: "true"\nnot_a_key: 1\n'


class GoneHost:
    """A host on which every unit is gone, with no record of it: a run followed there ends in error."""

    def events(self, run_id: RunId, *, since: datetime | None = None) -> AsyncIterator[HostEvent]:
        return self._none(run_id)

    async def _none(self, run_id: RunId) -> AsyncIterator[HostEvent]:
        raise RunNotFound(run_id)
        yield  # an async generator  # pragma: no cover


def a_run(name: str, job: str, state: State, at: datetime) -> Run:
    return Run(id=RunId(name), job_id=JobId(job), state=state, schedule_time=at, origin=Origin.SCHEDULE,
               times=MappingProxyType({state: at - HOUR}))


@pytest.fixture()
def jobs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "good.yaml").write_text(GOOD)
    (folder / "bad.yaml").write_text(BROKEN)
    return folder


def scenario(tmp_path: Path, jobs_dir: Path, test: Callable[[Scheduler, Reloader, SetClock], Awaitable[None]]) -> None:
    """apsisd started at START on `jobs_dir` (bad.yaml broken) over a store that holds, from before: bad's runs at
    11:00 (missed) and 13:00 (to come) and one running, its cursor at 13:30; gone's run at 13:00 and cursor."""
    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "apsis.db")
        try:
            await store.commit(Changes(runs=[
                a_run("r1", "bad", State.SCHEDULED, START - timedelta(minutes=70)),
                a_run("r2", "bad", State.SCHEDULED, START + timedelta(minutes=50)),
                a_run("r3", "gone", State.SCHEDULED, START + timedelta(minutes=50)),
                a_run("r4", "bad", State.RUNNING, START - timedelta(minutes=10)),
            ], cursors={JobId("bad"): START + timedelta(minutes=80), JobId("gone"): START + timedelta(minutes=80)}))
            clock = SetClock(START)
            jobs = read_jobs(jobs_dir)
            assert jobs.held == {"bad"} and list(jobs.jobs) == ["good"]
            scheduler = Scheduler(store=store, hosts={"local": GoneHost()}, clock=clock, jobs=jobs,  # type: ignore[arg-type]
                                  defaults=DEFAULTS, max_waiting=None)
            async with asyncio.timeout(10):
                await recover(scheduler, None)
                await test(scheduler, Reloader(scheduler, partial(load_jobs, jobs_dir)), clock)
            await scheduler.close()
        finally:
            await store.close()

    asyncio.run(main())


async def state_of(scheduler: Scheduler, run_id: str) -> State:
    return (await scheduler.records.store.get(RunId(run_id))).state


def test_a_held_job_keeps_its_runs_and_cursor_at_start(tmp_path: Path, jobs_dir: Path) -> None:
    async def test(scheduler: Scheduler, reloader: Reloader, clock: SetClock) -> None:
        store = scheduler.records.store
        assert await state_of(scheduler, "r1") is State.SCHEDULED  # not skipped, not caught up
        assert await state_of(scheduler, "r2") is State.SCHEDULED  # not withdrawn
        assert (await store.cursors()).get(JobId("bad")) == START + timedelta(minutes=80)
        with pytest.raises(UnknownRun):  # a job whose file is gone is removed, as ever
            await store.get(RunId("r3"))
        assert JobId("gone") not in await store.cursors()
        # The loop takes the due run off its heap and begins it: a held job's run is neither started nor in error.
        due = scheduler.ledger.pop_due(clock.now())
        assert [run.id for run in due] == ["r1"]
        await scheduler.begin(due[0])
        assert await state_of(scheduler, "r1") is State.SCHEDULED
        assert scheduler.ledger.get(RunId("r1")) is not None
        # A run already on the host is followed to its end, held or not (here: its unit is gone).
        assert (await scheduler.records.until(RunId("r4"), lambda run: run.finished)) is not None
        assert await state_of(scheduler, "r4") is State.ERROR
    scenario(tmp_path, jobs_dir, test)


def test_the_reload_that_reads_the_file_takes_the_job_up_as_a_start(tmp_path: Path, jobs_dir: Path) -> None:
    async def test(scheduler: Scheduler, reloader: Reloader, clock: SetClock) -> None:
        store = scheduler.records.store
        for run in scheduler.ledger.pop_due(clock.now()):  # r1, begun while held: left scheduled
            await scheduler.begin(run)
        refused = await reloader.reload()  # all or nothing while the file is still broken: bad stays held
        assert refused.errors and not refused.applied
        assert scheduler.jobs.held == {"bad"}
        assert await state_of(scheduler, "r1") is State.SCHEDULED
        clock.at = START + 3 * HOUR  # 15:10: 11:00 and 13:00 were stored, 14:00 and 15:00 never made
        (jobs_dir / "bad.yaml").write_text(FIXED)
        result = await reloader.reload()
        assert result.applied and result.added == ("bad",) and not result.removed
        assert not scheduler.jobs.held
        # Taken up as a start takes a job up: its stored runs kept (same ids), the missed ones made, all caught up
        # by its own `catchup: all`, and all due now; its cursor from where it was stored to now.
        due = scheduler.ledger.pop_due(clock.now())
        assert [run.schedule_time.hour for run in due] == [11, 13, 14, 15]
        assert [run.id for run in due][:2] == ["r1", "r2"]
        assert all(run.state is State.SCHEDULED for run in due)
        assert (await store.cursors())[JobId("bad")] == clock.now()
    scenario(tmp_path, jobs_dir, test)


def test_a_held_job_whose_file_is_gone_at_the_reload_is_removed(tmp_path: Path, jobs_dir: Path) -> None:
    async def test(scheduler: Scheduler, reloader: Reloader, clock: SetClock) -> None:
        store = scheduler.records.store
        (jobs_dir / "bad.yaml").unlink()
        result = await reloader.reload()
        assert result.applied and result.removed == ("bad",) and not result.added
        assert not scheduler.jobs.held
        r1 = await store.get(RunId("r1"))
        assert r1.state is State.SKIPPED and r1.reason == job_not_loaded(JobId("bad"))
        with pytest.raises(UnknownRun):
            await store.get(RunId("r2"))
        assert JobId("bad") not in await store.cursors()
    scenario(tmp_path, jobs_dir, test)


def test_a_reload_the_store_refuses_leaves_the_job_held(tmp_path: Path, jobs_dir: Path) -> None:
    """The disk full at the reload that would take the held job up: nothing changes (the job still held, its runs
    as stored), and the next reload takes it up."""
    async def test(scheduler: Scheduler, reloader: Reloader, clock: SetClock) -> None:
        store = scheduler.records.store
        commit = store.commit

        async def full(changes: Changes) -> int:
            raise StoreError("state database apsis.db: the changes were not written: database or disk is full")

        scheduler.records.store = cast(Store, SimpleNamespace(**{name: getattr(store, name) for name in (
            "new_ids", "get", "unfinished", "cursors", "check_writable", "finished_ahead")}, commit=full))
        clock.at = START + HOUR
        for run in scheduler.ledger.pop_due(clock.now()):  # r1 and r2, begun while held: left scheduled
            await scheduler.begin(run)
        (jobs_dir / "bad.yaml").write_text(FIXED)
        with pytest.raises(StoreError):
            await reloader.reload()
        assert scheduler.jobs.held == {"bad"} and JobId("bad") not in scheduler.jobs.jobs
        assert scheduler.ledger.get(RunId("r1")) is not None
        assert scheduler.ledger.pop_due(clock.now()) == []  # still held: not due again
        assert (await store.get(RunId("r1"))).state is State.SCHEDULED
        assert (await store.cursors())[JobId("bad")] == START + timedelta(minutes=80)
        scheduler.records.store = cast(Store, SimpleNamespace(**vars(scheduler.records.store) | {"commit": commit}))
        result = await reloader.reload()
        assert result.applied and result.added == ("bad",) and not scheduler.jobs.held
        assert [run.id for run in scheduler.ledger.pop_due(clock.now())][:2] == ["r1", "r2"]
    scenario(tmp_path, jobs_dir, test)


class TickingClock(SetClock):
    """Each reading a microsecond later than the last: what one decision does at one instant must not read it
    twice."""

    def now(self) -> datetime:
        self.at += timedelta(microseconds=1)
        return self.at


def test_the_runs_one_start_skips_are_skipped_at_one_instant(tmp_path: Path) -> None:
    """Missed while apsisd was down: the stored ones and those never made are skipped at the start's instant."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "good.yaml").write_text(GOOD)  # catchup: latest (the default)

    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "apsis.db")
        try:
            await store.commit(Changes(runs=[a_run("r1", "good", State.SCHEDULED, START - 5 * HOUR)],
                                       cursors={JobId("good"): START - 4 * HOUR}))
            scheduler = Scheduler(store=store, hosts={"local": GoneHost()}, clock=TickingClock(START),  # type: ignore[arg-type]
                                  jobs=read_jobs(folder), defaults=DEFAULTS, max_waiting=None)
            await recover(scheduler, None)
            runs = await store.runs(RunQuery(job_id=JobId("good")))
            await scheduler.close()
        finally:
            await store.close()
        skipped = [run for run in runs if run.state is State.SKIPPED]
        assert len(skipped) >= 4  # r1, stored, and the hours never made since the cursor
        assert "r1" in {run.id for run in skipped}
        assert len({run.times[State.SKIPPED] for run in skipped}) == 1

    asyncio.run(main())
