"""Each job's last run (scheduler/last_runs.py): read once from the store, then kept by every change seen."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agentd.types import JobId, RunId
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.last_runs import LastRuns
from tests.unit.scheduler.rig import START, Rig, on_rig

JOBS = {"a": "program: echo a\n", "b": "program: echo b\n"}


def a_run(number: int, job: str, state: State) -> Run:
    return Run(id=RunId(f"r{number}"), job_id=JobId(job), state=state,
               schedule_time=START - timedelta(hours=1) + timedelta(minutes=number))


def test_the_store_is_read_once_then_changes_keep_it(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.seed([a_run(1, "a", State.SUCCESS), a_run(2, "a", State.FAILURE), a_run(3, "a", State.SCHEDULED)])
        last = LastRuns()
        assert not last.known(JobId("a"))
        await last.seed(rig.scheduler, [JobId("a"), JobId("b")])
        found = last.of(JobId("a"))
        assert found is not None and (found.id, found.state) == ("r2", State.FAILURE)  # a scheduled run is not one
        assert last.known(JobId("b")) and last.of(JobId("b")) is None  # read: it never ran
        last.see(None, a_run(4, "a", State.RUNNING))
        last.see(None, a_run(1, "a", State.ERROR))  # an older run's change does not make it the last
        last.see(None, a_run(5, "a", State.SCHEDULED))
        found = last.of(JobId("a"))
        assert found is not None and (found.id, found.state) == ("r4", State.RUNNING)
        await last.seed(rig.scheduler, [JobId("a")])  # read already: what was seen since stays
        assert last.of(JobId("a")) == found

    on_rig(tmp_path, JOBS, test)
