"""apsisd end to end: SIGTERM leaves runs running and the next start adopts them; runs stopped at their stop time."""
from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta

from apsisd.runs.state import State
from tests.integration.daemon import Daemon, finished, soon, with_daemon


def _is_active(unit: str) -> str:
    return subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True).stdout.strip()


@with_daemon()
async def test_sigterm_leaves_runs_running_and_the_next_start_adopts_them(daemon: Daemon) -> None:
    ids = daemon.root / "ids"
    at = soon(2)
    for job, program in (("ok", "sleep 3"), ("fails", "sleep 3; exit 4"), ("short", "sleep 1; exit 6")):
        daemon.job(job, f"""
            schedule: {{type: explicit, times: ["{at}"]}}
            program: 'echo $APSIS_RUN_ID >> {ids}; {program}'
            {"retry: {count: 1}" if job == "short" else ""}
        """)
    await daemon.start()
    running = await daemon.wait_runs(lambda runs: len(runs) == 3 and all(r.state is State.RUNNING for r in runs),
                                     what="three runs running")
    assert await daemon.stop() == 0
    assert "STOPPING=1" in "\n".join(daemon.messages).split("\n")
    assert [_is_active(run.unit or "") for run in running] == ["active"] * 3
    short = next(run for run in running if run.job_id == "short")
    # The short run ends while apsisd is down: its outcome can only come from the journal.
    await daemon.wait_runs(lambda _: _is_active(short.unit or "") != "active", what="the short run's end")
    assert all(run.state is State.RUNNING for run in await daemon.runs())
    await daemon.start()

    runs = await daemon.wait_runs(finished(4), what="the adopted runs' ends and the short one's retry")
    before = {run.job_id: run for run in running}
    after = {run.job_id: run for run in runs[:3]}
    assert {job: (run.state, run.exit_code) for job, run in after.items()} == {
        "ok": (State.SUCCESS, 0), "fails": (State.FAILURE, 4), "short": (State.FAILURE, 6)}
    for job, run in before.items():  # the same runs, followed to their end on the same units
        assert (after[job].id, after[job].unit, after[job].invocation_id) == (run.id, run.unit, run.invocation_id)
    # A run that ended while apsisd was down is retried as if apsisd had seen it end.
    assert [(run.job_id, run.previous, run.attempt) for run in runs[3:]] == [("short", before["short"].id, 2)]
    assert Counter(ids.read_text().split()) == Counter(run.id for run in runs)  # each started once


@with_daemon()
async def test_a_run_is_stopped_at_its_stop_time_and_succeeds(daemon: Daemon) -> None:
    at = soon(2)
    for job, stop in (("stopped", "1.5s"), ("across", "3s")):
        daemon.job(job, f"""
            schedule:
              start: {{type: explicit, times: ["{at}"]}}
              stop: {stop}
            program: "sleep 30"
        """)
    await daemon.start()
    (stopped,) = await daemon.wait_runs(finished(1), "stopped")
    assert stopped.stop_time == stopped.schedule_time + timedelta(seconds=1.5)
    assert (stopped.state, stopped.signal) == (State.SUCCESS, "TERM")
    assert stopped.reason.startswith("stopped at its stop time")
    assert stopped.times[State.STOPPING] >= stopped.stop_time
    log = await daemon.entries(stopped.id)
    assert [(entry.state, entry.message) for entry in log if entry.state is State.STOPPING] == [
        (State.STOPPING, "stop time reached")]

    # The other run's stop time passes while apsisd is down: the next start stops it then.
    (across,) = await daemon.runs("across")
    assert across.state is State.RUNNING and across.stop_time is not None
    assert await daemon.stop() == 0
    await asyncio.sleep((across.stop_time - datetime.now(UTC)).total_seconds() + 0.2)  # the planned downtime
    await daemon.start()
    (across,) = await daemon.wait_runs(finished(1), "across")
    assert (across.state, across.signal) == (State.SUCCESS, "TERM")
    assert across.reason.startswith("stopped at its stop time")
