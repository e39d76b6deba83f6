"""A start after downtime on the fake host with a moving clock: runs in flight followed on the host (what ended
meanwhile recorded once, a start that never reached the host made then, a stop asked again), missed runs caught
up by each job's rule and started, units of ended runs let go (docs/operations.md, "Restart and crash
recovery")."""
from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.store.base import RunQuery
from tests.unit.scheduler.rig import START, Rig, on_rig

HOUR = timedelta(hours=1)
DOWN = START - HOUR  # when the runs in flight were started, before apsisd went down
HOURLY = """
    schedule: {type: interval, interval: 1h}
    program: "true"
"""
ENDED = (State.SUCCESS, State.FAILURE, State.ERROR)


def in_flight(number: int, state: State, job_id: str = "j", reason: str = "") -> Run:
    """A run as apsisd left it in its store: committed to start (its spec fixed) at DOWN, and on to `state`."""
    run_id = RunId(f"r{number}")
    times = {State.SCHEDULED: DOWN, State.STARTING: DOWN, state: DOWN}
    return Run(id=run_id, job_id=JobId(job_id), state=state, schedule_time=DOWN, origin=Origin.SCHEDULE,
               reason=reason, spec=RunSpec(run_id=run_id, job_id=JobId(job_id), shell="true"),
               times=MappingProxyType(times))


async def on_the_host(rig: Rig, *runs: Run) -> None:
    for run in runs:
        assert run.spec is not None
        await rig.host.start(run.spec)
    rig.host.starts.clear()  # what the test asks for: only apsisd's own starts are counted


async def ended(rig: Rig, run_id: RunId) -> Run:
    return await rig.until_state(run_id, *ENDED)


async def states_logged(rig: Rig, run_id: RunId) -> list[State]:
    return [entry.state for entry in await rig.log(run_id) if entry.state]


def test_runs_in_flight_are_followed_and_what_ended_meanwhile_is_recorded_once(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        running, ended_meanwhile, never_started, starting, stopping, gone = runs = [
            in_flight(1, State.RUNNING), in_flight(2, State.RUNNING), in_flight(3, State.STARTING),
            in_flight(4, State.STARTING), in_flight(5, State.STOPPING, reason="stopped by an operator"),
            in_flight(6, State.RUNNING)]
        await rig.seed(runs)
        await on_the_host(rig, running, ended_meanwhile, starting, stopping)
        rig.move_to(DOWN + HOUR / 2)
        rig.host.finish(ended_meanwhile.id, exit_code=4)
        rig.move_to(START)
        await rig.start()

        done = await ended(rig, ended_meanwhile.id)
        assert (done.state, done.exit_code, done.reason) == (State.FAILURE, 4, "exit code 4")
        assert (await ended(rig, gone.id)).reason == "the unit is gone and the journal has no record of it"
        stopped = await ended(rig, stopping.id)
        assert stopped.state is State.FAILURE and stopped.reason.startswith("stopped on request: ")
        assert rig.host.runs[stopping.id].stop_requested
        # The start that never reached the host is made now, once; the one that did is followed, not made again.
        await rig.until_state(never_started.id, State.RUNNING)
        await rig.until_state(starting.id, State.RUNNING)
        assert rig.host.starts == [(never_started.id, None)]
        assert ("no unit and no journal record: the start never reached systemd; starting it now"
                in [entry.message for entry in await rig.log(never_started.id)])
        assert (await rig.scheduler.records.store.get(running.id)).state is State.RUNNING
        rig.host.finish(running.id, exit_code=0)
        assert (await ended(rig, running.id)).state is State.SUCCESS

        # apsisd started again: what it recorded is not recorded again, and nothing is started again.
        await rig.stop()
        rig.scheduler = rig.new_scheduler()
        await rig.start()
        assert await states_logged(rig, ended_meanwhile.id) == [State.FAILURE]
        assert await states_logged(rig, running.id) == [State.SUCCESS]
        assert rig.host.starts == [(never_started.id, None)]
    on_rig(tmp_path, {"j": HOURLY}, test, at=DOWN)


def test_a_waiting_run_waits_again_and_starts_when_its_condition_holds(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        waiting = in_flight(1, State.WAITING, "load")
        extract = in_flight(2, State.RUNNING, "extract")
        await rig.seed([waiting, extract])
        await on_the_host(rig, extract)
        rig.move_to(START)
        await rig.start()
        assert rig.host.starts == []
        rig.host.finish(extract.id, exit_code=0)
        await rig.until_state(waiting.id, State.RUNNING)
        assert rig.host.starts == [(waiting.id, None)]
    on_rig(tmp_path, {"extract": HOURLY, "load": HOURLY + "    condition: {type: dependency, job_id: extract}\n"},
           test, at=DOWN)


CATCHUP = {
    "latest": HOURLY,
    "all": HOURLY + "    scheduling: {catchup: all}\n",
    "none": HOURLY + "    scheduling: {catchup: none}\n",
}


def test_missed_runs_are_caught_up_by_each_jobs_rule_and_started(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Down from 08:59:30 (each job's cursor) to 11:59:30: 09:00, 10:00 and 11:00 missed."""
    async def test(rig: Rig) -> None:
        await rig.seed([], cursors={JobId(job_id): START - 3 * HOUR for job_id in CATCHUP})
        with caplog.at_level(logging.INFO, logger="apsisd.scheduler"):
            await rig.start()
        missed = [START + timedelta(seconds=30) - hours * HOUR for hours in (3, 2, 1)]
        await rig.until(lambda: len(rig.host.starts) == 4)
        started = [(run.job_id, run.schedule_time, at) for run_id, at in rig.host.starts
                   if (run := await rig.store.get(run_id))]
        assert sorted(started) == [("all", time, time) for time in missed] + [("latest", missed[2], missed[2])]
        skipped = {job_id: sorted(run.schedule_time for run in await rig.store.runs(
            RunQuery(job_id=JobId(job_id), states=frozenset({State.SKIPPED})))) for job_id in CATCHUP}
        assert skipped == {"latest": missed[:2], "all": [], "none": missed}
        assert ("recovered 0 runs in flight; 4 missed runs caught up, 5 skipped, 0 withdrawn; 0 jobs held"
                in caplog.messages)
    on_rig(tmp_path, CATCHUP, test)


def test_the_units_of_runs_that_ended_are_let_go_and_nothing_is_recorded_again(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        recorded = in_flight(1, State.SUCCESS)
        unrecorded = in_flight(2, State.RUNNING)
        await rig.seed([recorded, unrecorded])
        rig.host.keeps_ended = True
        await on_the_host(rig, recorded, unrecorded)
        rig.move_to(DOWN + HOUR / 2)
        rig.host.finish(recorded.id, exit_code=1)  # apsisd recorded it (SUCCESS, above), then died: still loaded
        rig.host.finish(unrecorded.id, exit_code=2)
        assert {unit.run_id for unit in await rig.host.list()} == {recorded.id, unrecorded.id}
        rig.move_to(START)
        await rig.start()
        assert (await ended(rig, unrecorded.id)).exit_code == 2
        await rig.until(lambda: rig.host.runs[recorded.id].told)  # followed to its end, after which it is let go
        assert await rig.host.list() == []
        assert (await rig.scheduler.records.store.get(recorded.id)).state is State.SUCCESS
        assert await states_logged(rig, recorded.id) == []
    on_rig(tmp_path, {"j": HOURLY}, test, at=DOWN)
