"""apsisd end to end: a job every second, failures and timeouts, stop times, SIGTERM and adoption."""
from __future__ import annotations

import itertools
from datetime import timedelta

from apsisd.runs.state import State
from tests.integration.daemon import Daemon, finished, soon, with_daemon


@with_daemon()
async def test_a_job_every_second_runs_and_succeeds(daemon: Daemon) -> None:
    daemon.job("tick", """
        schedule: {type: interval, interval: 1s}
        program: "true"
    """)
    await daemon.start()
    runs = await daemon.wait_runs(lambda runs: sum(r.state is State.SUCCESS for r in runs) >= 3, "tick",
                                  "three successful runs")
    done = [run for run in runs if run.state is State.SUCCESS]
    assert all(run.exit_code == 0 and run.result == "success" for run in done)
    assert all(run.unit == f"apsis-{run.id}.service" and run.invocation_id for run in done)
    assert all(run.lateness is not None and 0 <= run.lateness < 1 for run in done)
    times = [run.schedule_time for run in done]
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(times))
    assert await daemon.stop() == 0


@with_daemon()
async def test_failure_and_timeout_outcomes(daemon: Daemon) -> None:
    at = soon(3)  # apsisd must have loaded the job by then: it starts in about a second, more when busy
    daemon.job("fails", f"""
        schedule: {{type: explicit, times: ["{at}"]}}
        program: "exit 3"
    """)
    daemon.job("slow", f"""
        schedule: {{type: explicit, times: ["{at}"]}}
        program: {{type: shell, command: "sleep 30", timeout: 1s}}
    """)
    await daemon.start()
    (fails,) = await daemon.wait_runs(finished(1), "fails")
    (slow,) = await daemon.wait_runs(finished(1), "slow")
    assert (fails.state, fails.exit_code, fails.reason) == (State.FAILURE, 3, "exit code 3")
    assert (slow.state, slow.result) == (State.FAILURE, "timeout")
    assert "timed out" in slow.reason
    log = [entry.state for entry in await daemon.store.log(fails.id) if entry.state]  # type: ignore[union-attr]
    assert log == [State.SCHEDULED, State.STARTING, State.RUNNING, State.FAILURE]
