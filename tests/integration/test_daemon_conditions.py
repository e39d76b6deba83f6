"""apsisd end to end: a dependency chain, the maximum waiting time, max_running, skip_duplicate, retries."""
from __future__ import annotations

import asyncio
import itertools

from apsisd.runs.model import Origin
from apsisd.runs.state import State
from tests.integration.daemon import Daemon, finished, soon, with_daemon

DAY = "2026-03-02"


@with_daemon()
async def test_a_dependency_chain_starts_each_run_after_the_one_before_succeeded(daemon: Daemon) -> None:
    at = soon(2)
    for job, program, needs in (("a", "sleep 0.5", None), ("b", "sleep 0.5", "a"), ("c", "true", "b"),
                                ("orphan", "true", "a")):
        condition = "" if needs is None else f"condition: {{type: dependency, job_id: {needs}}}"
        day = "1999-01-01" if job == "orphan" else DAY  # a(day=1999-01-01) never runs
        daemon.job(job, f"""
            params: [day]
            schedule: {{type: explicit, times: ["{at}"], args: {{day: "{day}"}}}}
            program: "{program}"
            {condition}
        """)
    await daemon.start(*daemon.config("""
        [waiting]
        max_time = "3s"
    """))
    (a,) = await daemon.wait_runs(finished(1), "a")
    (b,) = await daemon.wait_runs(finished(1), "b")
    (c,) = await daemon.wait_runs(finished(1), "c")
    assert [run.state for run in (a, b, c)] == [State.SUCCESS] * 3
    assert b.times[State.STARTING] >= a.times[State.SUCCESS]
    assert c.times[State.STARTING] >= b.times[State.SUCCESS]
    for run, needs in ((b, "a"), (c, "b")):
        log = await daemon.entries(run.id)
        assert [entry.state for entry in log if entry.state] == [
            State.SCHEDULED, State.WAITING, State.STARTING, State.RUNNING, State.SUCCESS]
        waiting = next(entry for entry in log if entry.state is State.WAITING)
        assert waiting.message == f"waiting until: dependency {needs}(day={DAY}) is success"

    (orphan,) = await daemon.wait_runs(finished(1), "orphan")
    assert orphan.state is State.ERROR
    assert orphan.reason == ("waited longer than the maximum waiting time (3 s) for: "
                             "dependency a(day=1999-01-01) is success")
    assert (orphan.times[State.ERROR] - orphan.times[State.WAITING]).total_seconds() >= 3


@with_daemon()
async def test_max_running_one_never_has_two_runs_on_the_host(daemon: Daemon) -> None:
    trace = daemon.root / "trace"
    at = soon(2)
    schedules = ", ".join(f'{{type: explicit, times: ["{at}"]}}' for _ in range(4))
    daemon.job("one", f"""
        schedule: [{schedules}]
        program: 'for edge in start end; do echo "$APSIS_RUN_ID $(date +%s.%N)" >> {trace}; sleep 0.3; done'
        condition: {{type: max_running, count: 1}}
    """)
    await daemon.start()
    runs = await daemon.wait_runs(finished(4), "one")
    assert len(runs) == 4 and all(run.state is State.SUCCESS for run in runs)
    spans: dict[str, list[float]] = {}
    for line in trace.read_text().splitlines():
        run_id, stamp = line.split()
        spans.setdefault(run_id, []).append(float(stamp))
    assert sorted(spans) == sorted(run.id for run in runs)
    ordered = sorted(spans.values())
    assert all(len(span) == 2 for span in ordered)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(ordered)), ordered
    waited = [run for run in runs if State.WAITING in run.times]
    assert len(waited) == 4  # each passed through waiting; three of them had to wait for a slot
    notes = [entry.message for run in runs for entry in await daemon.entries(run.id) if entry.state is None]
    assert notes.count("waiting: no other run of one starting, running or stopping") >= 3


@with_daemon()
async def test_skip_duplicate_skips_a_second_run_while_the_first_runs(daemon: Daemon) -> None:
    first, second = soon(2), soon(3)
    daemon.job("dup", f"""
        schedule: {{type: explicit, times: ["{first}", "{second}"]}}
        program: "sleep 2"
        condition: {{type: skip_duplicate}}
    """)
    await daemon.start()
    one, two = await daemon.wait_runs(finished(2), "dup")
    assert (one.state, two.state) == (State.SUCCESS, State.SKIPPED)
    assert two.reason == f"duplicate of {one.id}, which is running"
    assert State.STARTING not in two.times


@with_daemon()
async def test_a_failing_run_is_retried_with_backoff_until_it_succeeds(daemon: Daemon) -> None:
    count = daemon.root / "attempts"
    daemon.job("flaky", f"""
        schedule: {{type: explicit, times: ["{soon(2)}"]}}
        program: 'n=$(( $(cat {count} 2>/dev/null || echo 0) + 1 )); echo $n > {count}; exit $(( n < 3 ? 7 : 0 ))'
        retry: {{count: 3, delay: 1s, backoff: 2}}
    """)
    await daemon.start()
    runs = await daemon.wait_runs(lambda runs: any(run.state is State.SUCCESS for run in runs), "flaky",
                                  "a successful attempt")
    assert count.read_text().strip() == "3"
    one, two, three = runs
    assert [run.state for run in runs] == [State.FAILURE, State.FAILURE, State.SUCCESS]
    assert [run.attempt for run in runs] == [1, 2, 3]
    assert [run.origin for run in runs] == [Origin.SCHEDULE, Origin.RETRY, Origin.RETRY]
    assert [run.previous for run in runs] == [None, one.id, two.id]
    # Each attempt is due the delay after the failure before it, and runs then (not before).
    assert (two.schedule_time - one.times[State.FAILURE]).total_seconds() >= 1
    assert (three.schedule_time - two.times[State.FAILURE]).total_seconds() >= 2
    assert all(run.times[State.RUNNING] >= run.schedule_time for run in (two, three))
    assert (two.schedule_time - one.times[State.FAILURE]).total_seconds() >= 1
    notes = [entry.message for entry in await daemon.entries(one.id)]
    assert f"failure: retrying as {two.id} in 1 s" in notes
    notes = [entry.message for entry in await daemon.entries(two.id)]
    assert f"failure: retrying as {three.id} in 2 s" in notes
    assert await daemon.stop() == 0


@with_daemon()
async def test_waiting_runs_wait_on_across_a_restart(daemon: Daemon) -> None:
    at = soon(2)
    for job, program, needs, day in (("a", "sleep 2", None, DAY), ("b", "true", "a", DAY),
                                     ("orphan", "true", "a", "1999-01-01")):
        condition = "" if needs is None else f"condition: {{type: dependency, job_id: {needs}}}"
        daemon.job(job, f"""
            params: [day]
            schedule: {{type: explicit, times: ["{at}"], args: {{day: "{day}"}}}}
            program: "{program}"
            {condition}
        """)
    config = daemon.config("""
        [waiting]
        max_time = "4s"
    """)
    await daemon.start(*config)
    await daemon.wait_runs(lambda runs: sorted((run.job_id, run.state) for run in runs) == [
        ("a", State.RUNNING), ("b", State.WAITING), ("orphan", State.WAITING)], what="a running, b and orphan waiting")
    await daemon.kill()
    await asyncio.sleep(2)  # the planned downtime: the waiting time goes on
    await daemon.start(*config)
    a, b, orphan = sorted(await daemon.wait_runs(finished(3), what="the three runs' ends"), key=lambda r: r.job_id)
    assert (a.state, b.state, orphan.state) == (State.SUCCESS, State.SUCCESS, State.ERROR)
    assert b.times[State.STARTING] >= a.times[State.SUCCESS]
    waited = (orphan.times[State.ERROR] - orphan.times[State.WAITING]).total_seconds()
    assert 4 <= waited < 5.5, waited  # counted from when it began to wait (not from the restart: 6 s and more)
    assert orphan.reason.startswith("waited longer than the maximum waiting time (4 s) for: dependency a(")
