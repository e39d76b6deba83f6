"""Reloading the jobs on the fake host with a moving clock: a changed job's future runs follow its new schedule
(the runs it still gives kept, the others withdrawn, and the loop starts what is now due), a removed job's
scheduled runs go while its run on the host is followed to its end, an added job starts from now."""
from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from agentd.types import JobId
from apsisd.errors import UnknownRun
from apsisd.jobs.load import load_jobs
from apsisd.runs.state import State
from apsisd.scheduler.reload import Reloader
from apsisd.scheduler.service import LEAD
from apsisd.store.base import RunQuery
from tests.unit.scheduler.rig import START, Rig, on_rig

NOON = START + timedelta(seconds=30)
HOUR = timedelta(hours=1)
HOURLY = """
    schedule: {type: interval, interval: 1h}
    program: "true"
"""
EVERY_2H = """
    schedule: {type: interval, interval: 2h}
    program: "true"
"""


def reloader(rig: Rig) -> Reloader:
    return Reloader(rig.scheduler, partial(load_jobs, rig.folder))


def test_a_changed_jobs_future_runs_follow_its_new_schedule(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.start()
        await rig.until(lambda: len(rig.scheduled("j")) == 10)
        before = {run.schedule_time: run.id for run in rig.scheduled("j")}
        noon = before[NOON]
        rig.move_to(NOON)
        await rig.until_state(noon, State.RUNNING)
        rig.move_to(NOON + HOUR / 2)
        rig.write_job("j", EVERY_2H)
        result = await reloader(rig).reload()
        assert (result.applied, result.changed, result.added, result.removed) == (True, ("j",), (), ())
        after = rig.scheduled("j")
        assert [run.schedule_time for run in after] == [NOON + hours * HOUR for hours in range(2, 22, 2)]
        for hours in (2, 4, 6, 8):  # what the new schedule still gives keeps its run
            assert before[NOON + hours * HOUR] in [run.id for run in after]
        for hours in (1, 3, 5, 7, 9):  # the rest is withdrawn
            with pytest.raises(UnknownRun):
                await rig.store.get(before[NOON + hours * HOUR])
        assert (await rig.store.get(noon)).state is State.RUNNING  # a run on the host is never touched
        # The loop goes by the new schedule: after noon's, the next run the host is asked for is 14:00's.
        rig.move_to(NOON + 2 * HOUR - LEAD)
        await rig.until(lambda: len(rig.host.starts) == 2)
        assert rig.host.starts[1] == (before[NOON + 2 * HOUR], NOON + 2 * HOUR)
    on_rig(tmp_path, {"j": HOURLY}, test)


def test_a_removed_jobs_scheduled_runs_go_and_its_run_on_the_host_is_followed(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.start()
        await rig.until(lambda: len(rig.scheduled("gone")) == 10 and len(rig.scheduled("stays")) == 10)
        (running,) = [run for run in rig.scheduled("gone") if run.schedule_time == NOON]
        rig.move_to(NOON)
        await rig.until_state(running.id, State.RUNNING)
        await rig.until(lambda: len(rig.host.starts) == 2)  # and stays' noon run
        (rig.folder / "gone.yaml").unlink()
        result = await reloader(rig).reload()
        assert (result.applied, result.removed) == (True, ("gone",))
        assert rig.scheduled("gone") == []
        assert await rig.store.runs(RunQuery(job_id=JobId("gone"), states=frozenset({State.SCHEDULED}))) == []
        assert JobId("gone") not in await rig.store.cursors()
        rig.host.finish(running.id, exit_code=0)
        assert (await rig.until_state(running.id, State.SUCCESS)).exit_code == 0
        rig.move_to(NOON + HOUR)
        await rig.until(lambda: len(rig.host.starts) == 3)
        assert [(await rig.store.get(run_id)).job_id for run_id, _ in rig.host.starts[2:]] == ["stays"]
    on_rig(tmp_path, {"gone": HOURLY, "stays": HOURLY}, test)


def test_an_added_job_starts_from_now_catching_nothing_up(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.start()
        rig.move_to(NOON + HOUR / 2)
        rig.write_job("new", HOURLY)
        result = await reloader(rig).reload()
        assert result.added == ("new",)
        await rig.until(lambda: len(rig.scheduled("new")) == 10)
        assert rig.scheduled("new")[0].schedule_time == NOON + HOUR
        assert await rig.store.runs(RunQuery(job_id=JobId("new"), states=frozenset({State.SKIPPED}))) == []
    on_rig(tmp_path, {"j": HOURLY}, test)
