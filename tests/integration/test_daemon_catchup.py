"""apsisd end to end: the runs missed while it was stopped, caught up or skipped as each job's policy says.

Time is driven by explicit schedules a few seconds ahead: apsisd creates the
runs, is stopped before they are due, and started again once they are past.
"""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from apsisd.runs.model import Run
from apsisd.runs.state import State
from tests.integration.daemon import Daemon, explicit, finished, with_daemon

MISSED = "missed while apsisd was down; "
LATEST = MISSED + "catchup is latest: "


def _at(base: datetime, *offsets: float) -> str:
    return explicit(*(base + timedelta(seconds=offset) for offset in offsets))


async def _down_until(daemon: Daemon, until: datetime) -> datetime:
    """Stop apsisd (SIGTERM), let `until` pass, and note when it is started again (not yet started)."""
    assert await daemon.stop() == 0
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()))  # the planned downtime
    return datetime.now(UTC)


def _outcomes(runs: list[Run]) -> list[tuple[datetime, State, str]]:
    return [(run.schedule_time, run.state, run.reason) for run in runs]


@with_daemon()
async def test_catch_up_all_latest_none_and_max_age_after_downtime(daemon: Daemon) -> None:
    base = datetime.now(UTC)
    due = [base + timedelta(seconds=s) for s in (3, 4, 5)]
    for job, schedule, scheduling in (
            ("all", _at(base, 3, 4, 5), "{catchup: all}"),
            ("latest", _at(base, 3, 4, 5), "{catchup: latest}"),
            ("none", _at(base, 3, 4, 5), "{catchup: none}"),
            ("old", _at(base, 3, 5), "{catchup: all, max_age: 2s}"),
            # Only the first run exists before the downtime; the others are found from the job's cursor.
            ("capped", _at(base, 3, 4, 5), "{catchup: all, max_scheduled: 1}")):
        daemon.job(job, f"""
            schedule: {schedule}
            program: "true"
            scheduling: {scheduling}
        """)
    await daemon.start()
    before = await daemon.wait_runs(lambda runs: len(runs) == 12, what="the runs before the downtime")
    assert all(run.state is State.SCHEDULED for run in before), [(r.job_id, r.state, r.reason) for r in before]
    assert [run.schedule_time for run in await daemon.runs("capped")] == due[:1]
    restart = await _down_until(daemon, base + timedelta(seconds=5.5))
    assert all(run.state is State.SCHEDULED for run in await daemon.runs())
    await daemon.start()

    late = "missed while apsisd was down; caught up"
    for job in ("all", "capped"):
        runs = await daemon.wait_runs(finished(3), job)
        assert len(runs) == 3
        assert [(run.schedule_time, run.state) for run in runs] == [(time, State.SUCCESS) for time in due]
        for run in runs:
            assert run.lateness is not None and run.lateness >= (restart - run.schedule_time).total_seconds()
            created = [entry.message for entry in await daemon.entries(run.id) if entry.state is State.SCHEDULED]
            found_late = job == "capped" and run.schedule_time != due[0]
            assert created == [late if found_late else "scheduled by the job's schedule"]
    latest = await daemon.wait_runs(finished(3), "latest")
    assert [(time, state, reason.startswith(LATEST)) for time, state, reason in _outcomes(latest)[:2]] == [
        (time, State.SKIPPED, True) for time in due[:2]]
    assert (latest[2].schedule_time, latest[2].state) == (due[2], State.SUCCESS)
    assert latest[2].lateness is not None and latest[2].lateness >= (restart - due[2]).total_seconds()
    none = await daemon.wait_runs(finished(3), "none")
    assert _outcomes(none) == [(time, State.SKIPPED, MISSED + "catchup is none") for time in due]
    old = await daemon.wait_runs(finished(2), "old")
    assert _outcomes(old)[0] == (due[0], State.SKIPPED, MISSED + "older than max_age (2 s)")
    assert (old[1].schedule_time, old[1].state) == (due[2], State.SUCCESS)
    assert len(await daemon.runs()) == 14  # 3 + 3 + 3 + 2 + 3: nothing created twice
    assert "recovered 12 runs in flight; 8 missed runs caught up, 6 skipped, 0 withdrawn" in daemon.log()


@with_daemon()
async def test_since_skips_what_was_missed_before_it(daemon: Daemon) -> None:
    base = datetime.now(UTC)
    due = [base + timedelta(seconds=s) for s in (3, 4, 5)]
    for job, scheduling in (("all", "{catchup: all}"), ("latest", "{}")):
        daemon.job(job, f"""
            schedule: {_at(base, 3, 4, 5)}
            program: "true"
            scheduling: {scheduling}
        """)
    await daemon.start()
    await daemon.wait_runs(lambda runs: len(runs) == 6, what="the runs before the downtime")
    await _down_until(daemon, base + timedelta(seconds=5.5))
    since = base + timedelta(seconds=3.5)
    await daemon.start("--since", since.isoformat())
    before_since = (due[0], State.SKIPPED, f"{MISSED}before --since {since.isoformat()}")
    runs = await daemon.wait_runs(finished(3), "all")
    assert _outcomes(runs)[0] == before_since
    assert [(run.schedule_time, run.state) for run in runs[1:]] == [(time, State.SUCCESS) for time in due[1:]]
    runs = await daemon.wait_runs(finished(3), "latest")
    assert _outcomes(runs)[0] == before_since
    assert (runs[1].schedule_time, runs[1].state, runs[1].reason.startswith(LATEST)) == (due[1], State.SKIPPED, True)
    assert (runs[2].schedule_time, runs[2].state) == (due[2], State.SUCCESS)
