"""Runs with conditions on the fake host with a moving clock: a run waits from its time while its condition does
not hold (max_running, a dependency) and starts when it does, woken by the change that makes it hold; a run that
waits longer than the maximum waiting time is in error, saying what it waited for."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.service import LEAD
from tests.unit.scheduler.rig import START, Rig, on_rig

NOON = START + timedelta(seconds=30)
# Two schedules due at every hour: two runs of the job, with the same (no) args, at each instant.
TWO_AT_ONCE = """
    schedule: [{type: interval, interval: 1h}, {type: interval, interval: 1h}]
    program: "true"
    condition: {type: max_running, count: 1}
"""
EXTRACT = """
    schedule: {type: interval, interval: 1h}
    program: "true"
"""
LOAD = EXTRACT + """
    condition: {type: dependency, job_id: extract}
"""


async def at_noon(rig: Rig, job_id: str, count: int) -> list[Run]:
    """apsisd started, and the job's runs due at noon."""
    await rig.start()
    await rig.until(lambda: sum(run.schedule_time == NOON for run in rig.scheduled(job_id)) == count)
    return [run for run in rig.scheduled(job_id) if run.schedule_time == NOON]


def test_a_run_waits_from_its_time_not_before(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        (load,) = await at_noon(rig, "load", 1)
        (extract,) = [run for run in rig.scheduled("extract") if run.schedule_time == NOON]
        rig.move_to(NOON - LEAD)  # both taken off the heap: extract committed as starting, load waits for its time
        await rig.until_state(extract.id, State.STARTING)
        assert rig.scheduler.ledger.get(load.id) == load
        rig.move_to(NOON)
        waiting = await rig.until_state(load.id, State.WAITING)
        assert waiting.times[State.WAITING] == NOON
        assert waiting.reason == "waiting until: dependency extract is success"
    on_rig(tmp_path, {"extract": EXTRACT, "load": LOAD}, test)


def test_max_running_lets_one_run_on_the_host_and_the_other_in_when_it_ends(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        runs = await at_noon(rig, "j", 2)
        rig.move_to(NOON)
        await rig.until(lambda: len(rig.host.starts) == 1)
        (first, _), = rig.host.starts
        (second,) = [run.id for run in runs if run.id != first]
        await rig.until_state(first, State.RUNNING)
        await rig.until_state(second, State.WAITING)
        await rig.until_logged(second, lambda line: line.startswith("waiting: no other run of j"))
        assert [run_id for run_id, _ in rig.host.starts] == [first]
        rig.host.finish(first, exit_code=0)
        await rig.until_state(second, State.RUNNING)
        assert [run_id for run_id, _ in rig.host.starts] == [first, second]
    on_rig(tmp_path, {"j": TWO_AT_ONCE}, test)


def test_a_dependency_holds_when_its_run_succeeds(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        (extract,) = await at_noon(rig, "extract", 1)
        (load,) = [run for run in rig.scheduled("load") if run.schedule_time == NOON]
        rig.move_to(NOON)
        await rig.until_state(extract.id, State.RUNNING)
        await rig.until_logged(load.id, lambda line: line == "waiting: dependency extract is success")
        assert load.id not in rig.host.runs
        rig.move_to(NOON + timedelta(minutes=5))
        rig.host.finish(extract.id, exit_code=0)
        started = await rig.until_state(load.id, State.RUNNING)
        assert started.times[State.STARTING] == NOON + timedelta(minutes=5)
        assert [run_id for run_id, _ in rig.host.starts] == [extract.id, load.id]
    on_rig(tmp_path, {"extract": EXTRACT, "load": LOAD}, test)


def test_a_run_waiting_longer_than_the_maximum_is_in_error_saying_for_what(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        (load,) = await at_noon(rig, "load", 1)
        rig.move_to(NOON)
        await rig.until_state(load.id, State.WAITING)
        await rig.until_logged(load.id, lambda line: line == "waiting: dependency load is skipped")
        rig.move_to(NOON + timedelta(seconds=599))
        assert (await rig.scheduler.records.store.get(load.id)).state is State.WAITING
        rig.move_to(NOON + timedelta(seconds=600))
        done = await rig.until_state(load.id, State.ERROR)
        assert done.reason.startswith("waited longer than the maximum waiting time (600 s) for: ")
        assert done.reason.endswith("dependency load is skipped")
    on_rig(tmp_path, {"load": LOAD.replace("job_id: extract", "job_id: load, args: {}, states: [skipped]")}, test,
           max_waiting=600)
