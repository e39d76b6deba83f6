"""The sanity report against a real store and a host that lists the units it is given: each finding, and the
grace that keeps what is normal in passing out of it."""
from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from agentd.errors import HostError
from agentd.host import LinkStatus, UnitState
from agentd.types import JobId, RunId
from apsisd.jobs.load import load_jobs
from apsisd.jobs.scheduling import DEFAULTS
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.check import sanity
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import Changes
from apsisd.store.sqlite import SqliteStore

T = TypeVar("T")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(3600)


class ListingHost:
    """A host that only lists units: all the report asks of it."""

    def __init__(self, *units: str) -> None:
        self.units = units

    async def list(self) -> list[UnitState]:
        return [UnitState(run_id=RunId(name), unit=f"apsis-{name}.service", active_state="active",
                          sub_state="running") for name in self.units]


def a_run(number: int, state: State, *, ago: float, job: str = "hourly", **fields: Any) -> Run:
    """A run due `ago` seconds before now, in `state` since then."""
    at = NOW - timedelta(seconds=ago)
    return Run(id=RunId(f"r{number}"), job_id=JobId(job), state=state, schedule_time=at,
               times=MappingProxyType({state: at}), **fields)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), 10))


def test_each_finding_and_the_grace_that_keeps_the_normal_out(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    (jobs_dir / "hourly.yaml").write_text(textwrap.dedent("""\
        schedule: {type: interval, interval: 1h}
        program: "true"
        """))
    (jobs_dir / "weekly.yaml").write_text(textwrap.dedent("""\
        schedule: {type: interval, interval: 7d}
        program: "true"
        """))
    (jobs_dir / "daily.yaml").write_text('schedule: {type: interval, interval: 1d}\nprogram: "true"\n')
    (jobs_dir / "manual.yaml").write_text('program: "true"\n')

    async def scenario() -> None:
        store = await SqliteStore.open(tmp_path / "state" / "apsis.db")
        host = ListingHost("r4", "r5", "r6", "r7", "r20")
        scheduler = Scheduler(store=store, hosts={"local": host}, clock=FixedClock(), jobs=load_jobs(jobs_dir),  # type: ignore[arg-type]
                              defaults=DEFAULTS, max_waiting=None)
        runs = [
            a_run(1, State.SCHEDULED, ago=60),  # overdue
            a_run(2, State.SCHEDULED, ago=5),  # due a moment ago: not yet overdue
            a_run(3, State.RUNNING, ago=120),  # its unit is gone: lost
            a_run(4, State.RUNNING, ago=120),  # its unit is there
            a_run(5, State.RUNNING, ago=1),
            a_run(8, State.STARTING, ago=2),  # no unit yet, but only just starting
        ]
        finished = [
            a_run(6, State.SUCCESS, ago=3600, lateness=90.0),  # ended an hour ago: its unit r6 is an orphan; late
            a_run(7, State.FAILURE, ago=2, lateness=0.01),  # ended a moment ago: its unit may still be there
            a_run(9, State.SUCCESS, ago=3 * 86400, lateness=500.0),  # late, but before the window
        ]
        for each in runs:
            scheduler.ledger.put(each)
        await store.commit(Changes(runs=[*runs, *finished]))
        report = await sanity(scheduler, late=60, window=86400)
        assert [r.id for r in report.overdue] == ["r1"]
        assert [r.id for r in report.lost] == ["r3"]
        assert [unit.unit for unit in report.orphan_units] == ["apsis-r20.service", "apsis-r6.service"]
        assert [r.id for r in report.late] == ["r6"]
        # hourly has its runs; daily has none though its next (midnight, 12 h away) is within the day's horizon;
        # weekly's next (Thursday's midnight: every 7 days from the epoch's) is beyond it; manual has no schedule.
        assert next(scheduler.jobs.jobs[JobId("weekly")].times(NOW)).time == NOW + timedelta(hours=36)
        assert report.unscheduled_jobs == ["daily"]
        assert not report.ok
        await store.close()
    run(scenario)


def test_a_healthy_state_reports_nothing(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    (jobs_dir / "hourly.yaml").write_text('schedule: {type: interval, interval: 1h}\nprogram: "true"\n')

    async def scenario() -> None:
        store = await SqliteStore.open(tmp_path / "state" / "apsis.db")
        scheduler = Scheduler(store=store, hosts={"local": ListingHost("r2")}, clock=FixedClock(),  # type: ignore[arg-type]
                              jobs=load_jobs(jobs_dir), defaults=DEFAULTS, max_waiting=None)
        runs = [a_run(1, State.SCHEDULED, ago=-600), a_run(2, State.RUNNING, ago=300, lateness=0.02)]
        for each in runs:
            scheduler.ledger.put(each)
        await store.commit(Changes(runs=runs))
        report = await sanity(scheduler, late=60, window=86400)
        assert report.ok, report
        await store.close()
    run(scenario)


def test_each_run_is_looked_for_on_its_own_host_and_a_run_whose_host_is_gone_is_listed(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()

    async def scenario() -> None:
        store = await SqliteStore.open(tmp_path / "state" / "apsis.db")
        hosts = {"local": ListingHost("r1"), "db1": ListingHost("r2", "r4"), "db2": ListingHost("r9")}
        scheduler = Scheduler(store=store, hosts=hosts, clock=FixedClock(),  # type: ignore[arg-type]
                              jobs=load_jobs(jobs_dir), defaults=DEFAULTS, max_waiting=None)
        runs = [
            a_run(1, State.RUNNING, ago=120, host="local"),  # there
            a_run(2, State.RUNNING, ago=120, host="db1"),  # there
            a_run(3, State.RUNNING, ago=120, host="db2"),  # not on db2: lost
            a_run(4, State.RUNNING, ago=120, host="db2"),  # its unit is on db1, not on its host: lost there
            a_run(5, State.RUNNING, ago=120, host="db7"),  # db7 is not configured: hostless, not lost
        ]
        for each in runs:
            scheduler.ledger.put(each)
        await store.commit(Changes(runs=runs))
        report = await sanity(scheduler, late=60, window=86400)
        assert [r.id for r in report.lost] == ["r3", "r4"]
        assert [r.id for r in report.hostless] == ["r5"]
        assert [unit.unit for unit in report.orphan_units] == ["apsis-r9.service"]
        assert not report.ok
        await store.close()
    run(scenario)


class UnreachableHost:
    async def list(self) -> list[UnitState]:
        raise HostError("db1: unreachable since 11:58: Connection timed out")


def test_a_host_that_cannot_list_its_units_is_a_finding_and_its_runs_are_not_called_lost(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()

    async def scenario() -> None:
        store = await SqliteStore.open(tmp_path / "state" / "apsis.db")
        hosts = {"local": ListingHost("r1"), "db1": UnreachableHost()}
        scheduler = Scheduler(store=store, hosts=hosts, clock=FixedClock(),  # type: ignore[arg-type]
                              jobs=load_jobs(jobs_dir), defaults=DEFAULTS, max_waiting=None)
        runs = [a_run(1, State.RUNNING, ago=120, host="local"), a_run(2, State.RUNNING, ago=120, host="db1"),
                a_run(3, State.RUNNING, ago=120, host="local")]
        for each in runs:
            scheduler.ledger.put(each)
        await store.commit(Changes(runs=runs))
        report = await sanity(scheduler, late=60, window=86400)
        assert report.unlisted_hosts == [("db1", "db1: unreachable since 11:58: Connection timed out")]
        assert [r.id for r in report.lost] == ["r3"]  # r2 may well be running on db1: nobody could look
        assert not report.ok
        await store.close()
    run(scenario)


class LinkedHost(ListingHost):
    """A remote host as its link says it is; asked to list while unreachable, the test fails."""

    def __init__(self, *units: str, reachable: bool = True, skew: float | None = 0.1) -> None:
        super().__init__(*units)
        self.status = LinkStatus(tried=True, reachable=reachable, since=NOW - timedelta(minutes=5),
                                 problem="" if reachable else "ssh: connect to host db1 port 22: No route to host",
                                 agentd="0.1.0", hostname="db1", clock_skew=skew)

    def link_status(self) -> LinkStatus:
        return self.status

    async def list(self) -> list[UnitState]:
        assert self.status.reachable, "a host known unreachable is not asked (it would wait out the call timeout)"
        return await super().list()


def test_a_host_known_unreachable_is_reported_without_asking_it_and_a_skewed_clock_is_a_finding(
        tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()

    async def scenario() -> None:
        store = await SqliteStore.open(tmp_path / "state" / "apsis.db")
        hosts = {"local": ListingHost(), "db1": LinkedHost(reachable=False), "db2": LinkedHost(skew=-3.5),
                 "db3": LinkedHost(skew=1.9)}
        scheduler = Scheduler(store=store, hosts=hosts, clock=FixedClock(),  # type: ignore[arg-type]
                              jobs=load_jobs(jobs_dir), defaults=DEFAULTS, max_waiting=None)
        report = await sanity(scheduler, late=60, window=86400)
        assert report.unlisted_hosts == [("db1", "host db1 unreachable since 2026-12-01 11:55:00 UTC: ssh: connect "
                                                 "to host db1 port 22: No route to host")]
        assert [(status.name, status.clock_skew) for status in report.skewed_hosts] == [("db2", -3.5)]
        assert not report.ok
        await store.close()
    run(scenario)
