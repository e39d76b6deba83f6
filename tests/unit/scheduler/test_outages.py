"""A host unreachable for longer than its unreachable_after: its runs under way say so, once per outage, and again
when it is back (scheduler/outages.py)."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from agentd.host import LinkStatus
from agentd.types import JobId, RunId
from apsisd.jobs.load import load_jobs
from apsisd.jobs.scheduling import DEFAULTS
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import Changes
from apsisd.store.sqlite import SqliteStore
from tests.fakes.host import FakeHost

DOWN_SINCE = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.moment = DOWN_SINCE

    def now(self) -> datetime:
        return self.moment

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(3600)


class LinkedFake(FakeHost):
    def __init__(self) -> None:
        super().__init__()
        self.status = LinkStatus(tried=True, reachable=True, since=DOWN_SINCE - timedelta(hours=1), problem="",
                                 agentd="0.1", hostname="db1", clock_skew=0.0)

    def link_status(self) -> LinkStatus:
        return self.status

    def down(self, since: datetime) -> None:
        self.status = LinkStatus(tried=True, reachable=False, since=since, problem="No route to host", agentd="0.1",
                                 hostname="db1", clock_skew=0.0)

    def up(self, since: datetime) -> None:
        self.status = LinkStatus(tried=True, reachable=True, since=since, problem="", agentd="0.1", hostname="db1",
                                 clock_skew=0.0)


async def scheduler_with(tmp_path: Path, runs: list[Run]) -> tuple[Scheduler, Clock, LinkedFake, SqliteStore]:
    """A scheduler with local and db1 (unreachable_after 2 minutes), and `runs` in its store and ledger."""
    (tmp_path / "jobs").mkdir()
    store = await SqliteStore.open(tmp_path / "apsis.db")
    clock, db1 = Clock(), LinkedFake()
    scheduler = Scheduler(store=store, hosts={"local": FakeHost(), "db1": db1}, clock=clock,
                          jobs=load_jobs(tmp_path / "jobs"), defaults=DEFAULTS, max_waiting=None,
                          unreachable_after={"db1": 120.0})
    await store.commit(Changes(runs=runs))
    for run in runs:
        scheduler.ledger.put(run)
    return scheduler, clock, db1, store


def a_run(number: int, state: State, host: str) -> Run:
    return Run(id=RunId(f"r{number}"), job_id=JobId("j"), state=state, schedule_time=DOWN_SINCE, host=host,
               times=MappingProxyType({state: DOWN_SINCE}))


def test_runs_on_a_host_down_too_long_are_told_once_and_told_again_when_it_is_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        scheduler, clock, db1, store = await scheduler_with(tmp_path, [
            a_run(1, State.RUNNING, "db1"), a_run(2, State.STARTING, "db1"), a_run(3, State.RUNNING, "local"),
            a_run(4, State.SCHEDULED, "db1")])

        async def told(run_id: str) -> list[str]:
            return [entry.message for entry in await store.log(RunId(run_id)) if "host db1" in entry.message]

        db1.down(DOWN_SINCE)
        clock.moment = DOWN_SINCE + timedelta(seconds=119)
        await scheduler.outages.look()
        assert await told("r1") == []  # not yet unreachable_after
        clock.moment = DOWN_SINCE + timedelta(seconds=120)
        await scheduler.outages.look()
        await scheduler.outages.look()  # once per outage
        expected = ("host db1 unreachable since 2026-12-06 20:00:00 UTC (No route to host); the run goes on there, "
                    "and how it ends is recorded once the host is back")
        assert await told("r1") == [expected] and await told("r2") == [expected]
        assert await told("r3") == [] and await told("r4") == []  # another host's; not on the host
        db1.up(DOWN_SINCE + timedelta(seconds=130))
        await scheduler.outages.look()
        assert await told("r1") == [expected, "host db1 reachable again"]
        await store.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_blip_shorter_than_unreachable_after_is_told_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        scheduler, clock, db1, store = await scheduler_with(tmp_path, [a_run(1, State.RUNNING, "db1")])
        db1.down(DOWN_SINCE)
        clock.moment = DOWN_SINCE + timedelta(seconds=30)
        await scheduler.outages.look()
        db1.up(DOWN_SINCE + timedelta(seconds=31))
        await scheduler.outages.look()
        assert [e.message for e in await store.log(RunId("r1")) if "host db1" in e.message] == []
        await store.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))
