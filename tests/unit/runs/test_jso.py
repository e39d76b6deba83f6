"""run_jso(): the one JSON shape of a run, every field, times ISO 8601 in UTC."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.runs.jso import run_jso
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_new_run_has_every_key_with_nulls_where_nothing_is_known() -> None:
    run = Run(id=RunId("r1"), job_id=JobId("j"), schedule_time=T0)
    assert run_jso(run) == {
        "run_id": "r1", "job_id": "j", "args": {}, "state": "new",
        "times": {"schedule": "2026-03-02T09:00:00.000000+00:00"},
        "origin": "schedule", "attempt": 1, "previous": None, "reason": "",
        "unit": None, "invocation_id": None, "exit_code": None, "signal": None, "result": None,
        "cpu_time_ns": None, "memory_peak": None, "lateness": None, "host": None,
    }


def test_a_finished_run_with_everything() -> None:
    run = Run(
        id=RunId("r12"), job_id=JobId("reports/daily"), args={"date": "2026-03-02", "region": "eu"},
        state=State.FAILURE, schedule_time=T0,
        times={State.SCHEDULED: T0 - timedelta(days=1), State.STARTING: T0 + timedelta(microseconds=1500),
               State.RUNNING: T0 + timedelta(seconds=0.25), State.FAILURE: T0 + timedelta(minutes=5)},
        origin=Origin.RETRY, attempt=2, previous=RunId("r11"), reason="exit code 3",
        stop_time=T0 + timedelta(hours=1), spec=RunSpec(run_id=RunId("r12"), shell="false"),
        unit="apsis-r12.service", invocation_id="0f" * 16, exit_code=3, signal=None, result="exit-code",
        cpu_time_ns=12_500_000, memory_peak=3 << 20, lateness=0.25, host="db1",
    )
    jso = run_jso(run)
    assert jso == {
        "run_id": "r12", "job_id": "reports/daily", "args": {"date": "2026-03-02", "region": "eu"},
        "state": "failure",
        "times": {"schedule": "2026-03-02T09:00:00.000000+00:00", "scheduled": "2026-03-01T09:00:00.000000+00:00",
                  "starting": "2026-03-02T09:00:00.001500+00:00", "running": "2026-03-02T09:00:00.250000+00:00",
                  "failure": "2026-03-02T09:05:00.000000+00:00", "stop": "2026-03-02T10:00:00.000000+00:00"},
        "origin": "retry", "attempt": 2, "previous": "r11", "reason": "exit code 3",
        "unit": "apsis-r12.service", "invocation_id": "0f" * 16, "exit_code": 3, "signal": None,
        "result": "exit-code", "cpu_time_ns": 12_500_000, "memory_peak": 3 << 20, "lateness": 0.25,
        "host": "db1",
    }
    assert json.loads(json.dumps(jso)) == jso  # plain JSON values only (the spec is not part of it)


def test_times_in_other_zones_are_given_in_utc() -> None:
    berlin = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    run = Run(id=RunId("r1"), job_id=JobId("j"), schedule_time=berlin, stop_time=berlin + timedelta(hours=1),
              state=State.SCHEDULED, times={State.SCHEDULED: datetime(2026, 3, 2, 4, 0, tzinfo=timezone(
                  timedelta(hours=-5)))})
    assert run_jso(run)["times"] == {"schedule": "2026-03-02T09:00:00.000000+00:00",
                                     "scheduled": "2026-03-02T09:00:00.000000+00:00",
                                     "stop": "2026-03-02T10:00:00.000000+00:00"}


def test_the_args_are_a_copy_and_a_killed_run_shows_its_signal() -> None:
    args = {"a": "1"}
    run = Run(id=RunId("r1"), job_id=JobId("j"), args=args, schedule_time=T0, state=State.FAILURE,
              signal="KILL", result="signal")
    jso = run_jso(run)
    jso["args"]["a"] = "changed"
    assert args == {"a": "1"} and (jso["signal"], jso["result"], jso["exit_code"]) == ("KILL", "signal", None)
