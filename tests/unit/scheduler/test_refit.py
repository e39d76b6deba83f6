"""One run per schedule slot across reloads and restarts: a slot whose run is already starting (committed LEAD
before its time), or finished before its time (skipped ahead by an operator), gets no second run when its job
is reloaded or apsisd starts again. Against a real store, with the time passed in."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from agentd.types import JobId
from apsisd.jobs.load import load_jobs, read_jobs
from apsisd.jobs.scheduling import DEFAULTS
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.operations import skip
from apsisd.scheduler.recovery import recover
from apsisd.scheduler.reload import Reloader
from apsisd.scheduler.service import LEAD, Scheduler
from apsisd.store.base import RunQuery
from apsisd.store.sqlite import SqliteStore
from tests.unit.scheduler.fake_clock import SetClock

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
EVERY_MINUTE = 'schedule: {type: interval, interval: 1m}\nprogram: "true"\n'
CHANGED = 'schedule: {type: interval, interval: 1m}\nprogram: "true --changed"\n'
JOB = JobId("tick")


class NoHost:
    """Nothing here reaches a host: runs are committed as starting, never handed over."""


Test = Callable[[Scheduler, Reloader, SetClock, Path], Awaitable[None]]


def scenario(tmp_path: Path, test: Test) -> None:
    """apsisd started at START with one job every minute, its next ten runs made."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "tick.yaml").write_text(EVERY_MINUTE)

    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "apsis.db")
        try:
            scheduler = started(store, folder, SetClock(START))
            async with asyncio.timeout(10):
                await recover(scheduler, None)
                await scheduler.topup(JOB)
                await test(scheduler, Reloader(scheduler, partial(load_jobs, folder)), scheduler.clock, folder)
            await scheduler.close()
        finally:
            await store.close()

    asyncio.run(main())


def started(store: SqliteStore, folder: Path, clock: SetClock) -> Scheduler:
    return Scheduler(store=store, hosts={"local": NoHost()}, clock=clock, jobs=read_jobs(folder),  # type: ignore[arg-type]
                     defaults=DEFAULTS, max_waiting=None)


async def runs_at(scheduler: Scheduler, slot: datetime) -> list[Run]:
    return await scheduler.records.store.runs(RunQuery(job_id=JOB, since=slot, until=slot + timedelta(seconds=1)))


def test_a_reload_just_after_a_run_is_committed_starting_gives_its_slot_no_second_run(tmp_path: Path) -> None:
    """The campaign's r2000290: starting at 14:00:36.952 for the :37 slot, a reload at .968 made r2000323."""
    async def test(scheduler: Scheduler, reloader: Reloader, clock: SetClock, folder: Path) -> None:
        slot = START + MINUTE
        clock.at = slot - LEAD
        *_, due = scheduler.ledger.pop_due(clock.at + LEAD)  # the 14:00 run, then this one
        assert due.schedule_time == slot
        starting = await scheduler.driver.prepare(due)
        assert starting is not None and starting.state is State.STARTING
        clock.at = slot - LEAD / 3
        (folder / "tick.yaml").write_text(CHANGED)
        assert (await reloader.reload()).changed == (JOB,)
        assert [run.id for run in await runs_at(scheduler, slot)] == [due.id]
        assert [run.schedule_time for run in scheduler.ledger.pop_due(slot + MINUTE)] == [slot + MINUTE]
    scenario(tmp_path, test)


def test_a_run_skipped_ahead_of_its_time_stays_its_slots_only_run_across_a_reload(tmp_path: Path) -> None:
    async def test(scheduler: Scheduler, reloader: Reloader, clock: SetClock, folder: Path) -> None:
        slot = START + 3 * MINUTE
        (ahead,) = [run for run in scheduler.ledger.all() if run.schedule_time == slot]
        await skip(scheduler, ahead.id, "operator")
        (folder / "tick.yaml").write_text(CHANGED)
        assert (await reloader.reload()).changed == (JOB,)
        assert [(run.id, run.state) for run in await runs_at(scheduler, slot)] == [(ahead.id, State.SKIPPED)]
    scenario(tmp_path, test)


def test_a_run_skipped_ahead_of_its_time_stays_its_slots_only_run_across_a_restart(tmp_path: Path) -> None:
    async def test(scheduler: Scheduler, reloader: Reloader, clock: SetClock, folder: Path) -> None:
        slot = START + 3 * MINUTE
        (ahead,) = [run for run in scheduler.ledger.all() if run.schedule_time == slot]
        await skip(scheduler, ahead.id, "operator")
        clock.at = START + MINUTE / 2
        again = started(scheduler.records.store, folder, clock)  # type: ignore[arg-type]
        await recover(again, None)
        assert [(run.id, run.state) for run in await runs_at(again, slot)] == [(ahead.id, State.SKIPPED)]
        await again.close()
    scenario(tmp_path, test)
