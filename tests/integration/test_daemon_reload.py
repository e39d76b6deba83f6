"""apsisd end to end: reloading the jobs folder, by SIGHUP and by watching it, and refusing a folder with errors."""
from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from apsisd.runs.model import Run
from apsisd.runs.state import State
from tests.integration.api import post
from tests.integration.daemon import Daemon, explicit, finished, soon, with_daemon


def _successes(runs: list[Run]) -> int:
    return sum(run.state is State.SUCCESS for run in runs)


@pytest.mark.parametrize("how", ["sighup", "watch"])
@with_daemon()
async def test_reload_adds_changes_and_removes_jobs_and_refuses_a_broken_folder(daemon: Daemon, how: str) -> None:
    base = datetime.now(UTC).replace(microsecond=0)
    later, much_later, in_between = (base + timedelta(seconds=s) for s in (60, 120, 90))
    daemon.job("tick", """
        schedule: {type: interval, interval: 1s}
        program: "true"
    """)
    daemon.job("same", f"""
        schedule: {explicit(later, much_later)}
        program: "true"
    """)
    daemon.job("moved", f"""
        schedule: {explicit(later, much_later)}
        program: "true"
    """)
    daemon.job("gone", f"""
        schedule: {explicit(later)}
        program: "true"
    """)
    daemon.job("slow", f"""
        schedule: {{type: explicit, times: ["{soon(2)}"]}}
        program: "sleep 2"
    """)
    await daemon.start(*daemon.config("[reload]\nwatch = false\n") if how == "sighup" else ())
    (slow,) = await daemon.wait_runs(lambda runs: len(runs) == 1 and runs[0].state is State.RUNNING, "slow",
                                     "the slow run running")
    same = await daemon.runs("same")
    moved = await daemon.runs("moved")
    assert [run.schedule_time for run in moved] == [later, much_later]
    assert len(await daemon.runs("gone")) == 1

    def reload() -> None:
        """The folder is watched, or not: then SIGHUP."""
        if how == "sighup":
            daemon.signal(signal.SIGHUP)

    daemon.job("same", f"""
        schedule: {explicit(later, much_later)}
        program: "exit 0"
    """)
    daemon.job("moved", f"""
        schedule: {explicit(later, in_between)}
        program: "true"
    """)
    daemon.remove_job("gone")
    daemon.job("added", f"""
        schedule: {{type: explicit, times: ["{soon(1.5)}"]}}
        program: "true"
    """)
    daemon.job("slow", f"""
        schedule: {{type: explicit, times: ["{soon(2)}"]}}
        program: "exit 5"
    """)
    reload()
    reloaded = "reloaded (SIGHUP)" if how == "sighup" else "reloaded (the jobs folder changed)"
    await daemon.wait_log(f"{reloaded}: 1 added, 3 changed, 1 removed")
    assert await daemon.runs("gone") == []  # its future run withdrawn
    assert [run.id for run in await daemon.runs("same")] == [run.id for run in same]  # only the program changed
    now_moved = await daemon.runs("moved")
    assert [(run.id, run.schedule_time) for run in now_moved[:1]] == [(moved[0].id, later)]
    assert [run.schedule_time for run in now_moved] == [later, in_between]
    assert moved[1].id not in {run.id for run in now_moved}
    old, new = await daemon.wait_runs(finished(2), "slow")
    assert (old.id, old.state, old.exit_code) == (slow.id, State.SUCCESS, 0)  # what it started with, not the new
    assert (new.state, new.exit_code) == (State.FAILURE, 5)
    (added,) = await daemon.wait_runs(finished(1), "added")
    assert added.state is State.SUCCESS

    daemon.job("broken", """
        schedule: {type: interval, interval: soon}
        program: "true"
    """)
    daemon.remove_job("same")  # not applied: the folder is refused whole
    reload()
    await daemon.wait_log("the jobs in force are unchanged")
    assert "broken.yaml" in daemon.log()
    ticks = _successes(await daemon.runs("tick"))
    await daemon.wait_runs(lambda runs: _successes(runs) >= ticks + 2, "tick", "the old jobs still running")
    assert [run.id for run in await daemon.runs("same")] == [run.id for run in same]
    assert await daemon.runs("broken") == []

    for job_id in ("tick", "same", "moved", "slow", "added"):
        times = Counter(run.schedule_time for run in await daemon.runs(job_id))
        assert [time for time, count in times.items() if count > 1] == [], job_id  # no run created twice
    assert await daemon.stop() == 0


@with_daemon()
async def test_a_job_changed_while_apsisd_was_stopped_is_taken_as_it_now_reads(daemon: Daemon) -> None:
    base = datetime.now(UTC).replace(microsecond=0)
    later, much_later, in_between = (base + timedelta(seconds=s) for s in (60, 120, 90))
    for job in ("moved", "emptied", "same"):
        daemon.job(job, f"""
            schedule: {explicit(later, much_later)}
            program: "true"
        """)
    await daemon.start()
    moved = await daemon.wait_runs(lambda runs: len(runs) == 6, what="the runs before the change")
    assert await daemon.stop() == 0
    daemon.job("moved", f"""
        schedule: {explicit(later, in_between)}
        program: "true"
    """)
    daemon.job("emptied", """
        schedule: []
        program: "true"
    """)
    daemon.job("same", f"""
        schedule: {explicit(later, much_later)}
        program: "exit 0"
    """)
    await daemon.start()
    now = {job: [(run.id, run.schedule_time) for run in await daemon.runs(job)] for job in ("moved", "emptied", "same")}
    was = {job: [(run.id, run.schedule_time) for run in moved if run.job_id == job] for job in now}
    assert now["same"] == was["same"]
    assert now["emptied"] == [], daemon.log()
    assert now["moved"][0] == was["moved"][0]
    assert [time for _, time in now["moved"]] == [later, in_between]


@pytest.mark.parametrize("how", ["reload", "restart"])
@with_daemon()
async def test_a_run_skipped_ahead_of_its_time_stays_the_only_run_of_its_slot(daemon: Daemon, how: str) -> None:
    """An operator skips tomorrow's run; the job's file changes and is reloaded (or apsisd restarts): the slot
    keeps its skipped run and gets no other (its run is past scheduled, like one committed starting just before
    its time, which a reload once gave a second run)."""
    base = datetime.now(UTC).replace(microsecond=0)
    later, much_later = base + timedelta(seconds=60), base + timedelta(seconds=120)
    daemon.job("daily", f"schedule: {explicit(later, much_later)}\nprogram: 'true'\n")
    await daemon.start(*daemon.config("[reload]\nwatch = false\n"))
    first, second = sorted(await daemon.wait_runs(lambda runs: len(runs) == 2, "daily", "the two runs"),
                           key=lambda run: run.schedule_time)
    status, body = await post(f"/api/v1/runs/{first.id}/skip")
    assert (status, body["state"]) == (200, "skipped"), body
    daemon.job("daily", f"schedule: {explicit(later, much_later)}\nprogram: 'exit 0'\n")
    if how == "reload":
        daemon.signal(signal.SIGHUP)
        await daemon.wait_log("reloaded (SIGHUP): 0 added, 1 changed, 0 removed")
    else:
        assert await daemon.stop() == 0
        await daemon.start(*daemon.config("[reload]\nwatch = false\n"))
    runs = await daemon.runs("daily")
    assert sorted((run.schedule_time, run.id, run.state) for run in runs) == [
        (later, first.id, State.SKIPPED), (much_later, second.id, State.SCHEDULED)]
    assert await daemon.stop() == 0
