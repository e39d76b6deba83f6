"""A run for people, and the exit status of `apsis run --wait` for each way a run ends (as timeout(1) counts)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apsisd.cli.render import Style, table
from apsisd.cli.run_view import RUN_HEADERS, details, ending, exit_status, row

NOW = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def run(state: str, **fields: Any) -> dict[str, Any]:
    times = {"schedule": "2026-03-09T13:00:00+00:00", "running": "2026-03-09T13:00:01+00:00"}
    if state in ("success", "failure", "error"):
        times[state] = "2026-03-09T13:00:04.5+00:00"
    return {"run_id": "r7", "job_id": "etl/load", "args": {"date": "2026-03-09"}, "state": state, "times": times,
            "origin": "schedule", "attempt": 1, "previous": None, "reason": "", "unit": None, "invocation_id": None,
            "exit_code": None, "signal": None, "result": None, "cpu_time_ns": None, "memory_peak": None,
            "lateness": None, **fields}


@pytest.mark.parametrize(("fields", "status", "shown"), [
    ({"state": "success", "exit_code": 0, "result": "success"}, 0, "exit 0"),
    ({"state": "failure", "exit_code": 3, "result": "exit-code"}, 3, "exit 3"),
    ({"state": "failure", "signal": "TERM", "result": "signal"}, 143, "signal TERM"),
    ({"state": "failure", "signal": "KILL", "result": "oom-kill"}, 137, "signal KILL"),
    ({"state": "failure", "signal": "TERM", "result": "timeout"}, 124, "timeout"),
    ({"state": "failure", "exit_code": 0, "result": "success"}, 1, "exit 0"),  # stopped, and exited 0
    ({"state": "failure", "signal": "NOSUCH"}, 125, "signal NOSUCH"),
    ({"state": "error", "reason": "no such program"}, 125, "-"),
    ({"state": "skipped", "reason": "skipped by uid 0"}, 125, "-"),
])
def test_the_exit_status_of_a_finished_run(fields: dict[str, Any], status: int, shown: str) -> None:
    finished = run(**fields)
    assert (exit_status(finished), ending(finished)) == (status, shown)


def test_a_run_as_a_row_and_as_details() -> None:
    ended = run("failure", exit_code=3, result="exit-code", unit="apsis-r7.service", cpu_time_ns=12_000_000,
                memory_peak=3 << 20, lateness=0.0152, reason="exit code 3", host="db1")
    assert list(table(RUN_HEADERS, [row(ended, UTC, NOW)], Style(colour=False))) == [
        "RUN  STATE    JOB       ARGS             SCHEDULED                    ELAPSED  RESULT",
        "r7   failure  etl/load  date=2026-03-09  Mon 2026-03-09 13:00:00 UTC  3.5s     exit 3",
    ]
    assert list(details(ended, UTC, NOW)) == [
        "            Run: r7",
        "            Job: etl/load",
        "           Args: date=2026-03-09",
        "          State: failure (exit code 3)",
        "         Origin: schedule",
        "  Schedule time: Mon 2026-03-09 13:00:00 UTC",
        "        Running: Mon 2026-03-09 13:00:01 UTC",
        "        Failure: Mon 2026-03-09 13:00:04 UTC",
        "       Lateness: 15ms",
        "        Elapsed: 3.5s",
        "         Result: exit 3 (systemd: exit-code)",
        "           Host: db1",
        "           Unit: apsis-r7.service",
        "       CPU time: 12ms",
        "    Memory peak: 3M",
    ]


def test_a_running_run_has_run_until_now_and_a_scheduled_one_not_at_all() -> None:
    assert row(run("running"), UTC, NOW)[5:] == ("59min 59s", "-")
    scheduled = run("scheduled", times={"schedule": "2026-03-09T15:00:00+00:00"})
    assert row(scheduled, UTC, NOW)[5:] == ("-", "-")
    rerun = run("success", origin="rerun", previous="r3", attempt=2)
    assert "         Origin: rerun (after r3), attempt 2" in list(details(rerun, UTC, NOW))
