"""Runs routed to hosts by name, on several fake hosts with the moving clock: a job's host or group picked when a
run is bound and written to the store before the host is asked; stop, signals and output go to the run's recorded
host; a restart follows each run on its own host; a run whose host is no longer configured waits, reported, and
is never started elsewhere."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from agentd.host import StartResult
from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.jobs.hosts import HostGroup, Pick
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler import operations
from apsisd.scheduler.check import sanity
from tests.unit.scheduler.rig import START, Rig, on_rig

MINUTE = timedelta(minutes=1)
NEXT = START + timedelta(seconds=30)  # the first minute's run of EVERY_MINUTE
EVERY_MINUTE = """
    schedule: {{type: interval, interval: 1m}}
    program: "true"
    host: {host}
"""
GROUPS = {"dbs": HostGroup(name="dbs", hosts=("db1", "db2")),
          "any": HostGroup(name="any", hosts=("db1", "db2"), pick=Pick.RANDOM)}


def every_minute(host: str) -> str:
    return EVERY_MINUTE.format(host=host)


async def started_at(rig: Rig, when: datetime) -> list[Run]:
    """The job's run due at `when`, running once time reaches it."""
    await rig.until(lambda: any(run.schedule_time == when for run in rig.scheduler.ledger.all()))
    (due,) = [run for run in rig.scheduler.ledger.all() if run.schedule_time == when]
    rig.move_to(when)
    return [await rig.until_state(due.id, State.RUNNING)]


def test_a_job_s_runs_go_to_its_host_recorded_before_the_host_is_asked(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        seen: list[tuple[str | None, State]] = []
        db1 = rig.hosts["db1"]
        real_start = db1.start

        async def start(spec: RunSpec, *, at: datetime | None = None) -> StartResult:
            stored = await rig.store.get(spec.run_id)  # what a crash right now would leave
            seen.append((stored.host, stored.state))
            return await real_start(spec, at=at)

        db1.start = start  # type: ignore[method-assign]
        await rig.start()
        (run,) = await started_at(rig, NEXT)
        assert (run.host, run.reason) == ("db1", "running as apsis-" + run.id + ".service")
        assert seen == [("db1", State.STARTING)]
        assert [run_id for run_id, _ in db1.starts] == [run.id]
        assert rig.host.starts == [] and rig.hosts["db2"].starts == []
        assert "starting on db1" in [entry.message for entry in await rig.log(run.id)]
    on_rig(tmp_path, {"j": every_minute("db1")}, test, remotes=("db1", "db2"))


def test_a_group_picks_its_hosts_in_turn_and_each_run_records_its_own(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.start()
        hosts = []
        for minute in range(4):
            (run,) = await started_at(rig, NEXT + minute * MINUTE)
            hosts.append(run.host)
            assert run.id in rig.hosts[run.host].runs  # on the host it says, and no other
            assert all(run.id not in host.runs for name, host in rig.hosts.items() if name != run.host)
        assert hosts == ["db1", "db2", "db1", "db2"]
    on_rig(tmp_path, {"j": every_minute("dbs")}, test, remotes=("db1", "db2"), groups=GROUPS)


def test_a_random_group_picks_among_its_hosts(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.start()
        runs = [(await started_at(rig, NEXT + minute * MINUTE))[0] for minute in range(6)]
        assert {run.host for run in runs} <= {"db1", "db2"}
        assert all(run.id in rig.hosts[run.host].runs for run in runs if run.host)
    on_rig(tmp_path, {"j": every_minute("any")}, test, remotes=("db1", "db2"), groups=GROUPS)


def test_stop_signals_and_output_go_to_the_run_s_host(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.start()
        (run,) = await started_at(rig, NEXT)
        db2 = rig.hosts["db2"]
        await operations.send_signal(rig.scheduler, run.id, "WINCH", "tester")
        assert db2.runs[run.id].signals_sent == ["WINCH"]
        db2.write(run.id, b"hello from db2\n")
        host = rig.scheduler.host_of(await rig.store.get(run.id))
        assert host is db2
        assert [record.data async for record in host.output(run.id, follow=False)] == [b"hello from db2\n"]
        await operations.stop(rig.scheduler, run.id, "tester")
        stopped = await rig.until_state(run.id, State.FAILURE, State.SUCCESS)
        assert db2.runs[run.id].stop_requested and stopped.host == "db2"
        assert not rig.host.runs
    on_rig(tmp_path, {"j": every_minute("db2")}, test, remotes=("db1", "db2"))


def in_flight(number: int, host: str | None, job_id: str = "j") -> Run:
    """A run apsisd left running on `host` when it went down."""
    run_id = RunId(f"r{number}")
    down = START - MINUTE
    return Run(id=run_id, job_id=JobId(job_id), state=State.RUNNING, schedule_time=down, origin=Origin.SCHEDULE,
               spec=RunSpec(run_id=run_id, job_id=JobId(job_id), shell="true"), host=host,
               times=MappingProxyType({State.SCHEDULED: down, State.STARTING: down, State.RUNNING: down}))


def test_a_restart_follows_each_run_on_its_own_host(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        on_local, on_db1, ended_on_db2, missing_on_db1 = runs = [
            in_flight(1, "local"), in_flight(2, "db1"), in_flight(3, "db2"), in_flight(4, "db1")]
        await rig.seed(runs)
        for run in (on_local, on_db1, ended_on_db2):
            assert run.spec is not None and run.host is not None
            await rig.hosts[run.host].start(run.spec)
            rig.hosts[run.host].starts.clear()
        rig.hosts["db2"].finish(ended_on_db2.id, exit_code=3)  # while apsisd was down
        await rig.start()
        assert (await rig.until_state(ended_on_db2.id, State.FAILURE)).exit_code == 3
        assert (await rig.until_state(missing_on_db1.id, State.ERROR)).reason == (
            "the unit is gone and the journal has no record of it")
        rig.hosts["db1"].finish(on_db1.id, exit_code=0)
        assert (await rig.until_state(on_db1.id, State.SUCCESS)).host == "db1"
        assert (await rig.store.get(on_local.id)).state is State.RUNNING  # its host has not told an end
        rig.host.finish(on_local.id, exit_code=0)
        await rig.until_state(on_local.id, State.SUCCESS)
        assert all(not host.starts for host in rig.hosts.values()), "nothing started again, anywhere"
    on_rig(tmp_path, {"j": every_minute("local")}, test, remotes=("db1", "db2"), at=START)


def test_a_run_whose_host_is_no_longer_configured_waits_and_is_reported(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        running = in_flight(1, "db9")
        await rig.seed([running])
        await rig.start()
        await rig.until_logged(running.id, lambda message: message.startswith("its host 'db9' is not in apsisd"))
        assert (await rig.store.get(running.id)).state is State.RUNNING  # no outcome invented
        assert all(not host.starts for host in rig.hosts.values()), "never started elsewhere"
        report = await sanity(rig.scheduler, late=60, window=86400)
        assert [run.id for run in report.hostless] == [running.id] and not report.lost and not report.ok
    on_rig(tmp_path, {"j": every_minute("local")}, test, remotes=("db1",))


def test_an_ad_hoc_run_goes_to_the_host_or_group_it_names(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.start()
        made = [await operations.create_adhoc(rig.scheduler, "true", "adhoc", None, "tester", lambda spec: spec,
                                              host=name) for name in ("db1", "dbs", "dbs", None)]
        assert [run.host for run in made] == ["db1", "dbs", "dbs", None]
        started = [await rig.until_state(run.id, State.RUNNING) for run in made]
        assert [run.host for run in started] == ["db1", "db1", "db2", "local"]
        for name, bad in (("nope", "host: no host or group 'nope' in apsisd.toml; use one of: db1, db2, dbs, "
                                   "local, or add [hosts.nope]"),
                          (3, "host: must be the name of a host or a group")):
            with pytest.raises(operations.BadArgs) as caught:
                await operations.create_adhoc(rig.scheduler, "true", "adhoc", None, "tester", lambda spec: spec,
                                              host=name)
            assert str(caught.value).startswith(bad)
    on_rig(tmp_path, {}, test, remotes=("db1", "db2"), groups={"dbs": GROUPS["dbs"]})


def test_an_ad_hoc_run_for_a_host_gone_at_a_restart_waits_unstarted(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.start()
        run = await operations.create_adhoc(rig.scheduler, "true", "adhoc", START + MINUTE, "tester",
                                            lambda spec: spec, host="db1")
        await rig.stop()
        rig.configure(())
        rig.scheduler = rig.new_scheduler()
        await rig.start()
        rig.move_to(START + MINUTE)
        await rig.until_logged(run.id, lambda message: message.startswith("its host 'db1' is not in apsisd"))
        assert (await rig.store.get(run.id)).state is State.SCHEDULED
        assert all(not host.starts for host in rig.hosts.values())
    on_rig(tmp_path, {}, test, remotes=("db1",))
