"""bench/campaign_check.py's one allowance: an outcome apsis records as lost is not wrong when no one could know it.
PID 1 logs only to the kernel's log while journald is away, so a run that ended then, with no apsisd alive, has no
end anywhere apsis may believe. Anything else recorded lost stays wrong."""
from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from agentd.spec import RunSpec
from agentd.systemd.outcome import MSG_FAILED, MSG_PROCESS_EXITED, MSG_STARTED, MSG_SUCCEEDED
from agentd.types import JobId, RunId
from apsisd.runs.model import Run
from apsisd.runs.state import State

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # the benches import each other so
import campaign_check

STARTED_AT = 1_000.0
VERDICT_AT = 1_030.0


def lost_run(state: State = State.ERROR, reason: str = "outcome lost: systemd result unknown") -> Run:
    return Run(id=RunId("r1"), job_id=JobId("fail"), schedule_time=datetime.fromtimestamp(STARTED_AT, UTC),
               state=state, reason=reason, times={state: datetime.fromtimestamp(VERDICT_AT, UTC)})


def record(message_id: str, at: float) -> dict[str, Any]:
    return {"UNIT": "apsis-r1.service", "MESSAGE_ID": message_id, "__REALTIME_TIMESTAMP": str(int(at * 1e6))}


def test_a_run_started_then_journald_away_with_no_end_recorded_is_untold() -> None:
    assert campaign_check.untold(lost_run(), [record(MSG_STARTED, STARTED_AT)], [STARTED_AT + 0.5])


@pytest.mark.parametrize("end", [MSG_PROCESS_EXITED, MSG_SUCCEEDED, MSG_FAILED])
def test_an_end_pid_1_recorded_makes_the_lost_outcome_wrong(end: str) -> None:
    records = [record(MSG_STARTED, STARTED_AT), record(end, STARTED_AT + 1)]
    assert not campaign_check.untold(lost_run(), records, [STARTED_AT + 0.5])


@pytest.mark.parametrize("stops", [[], [STARTED_AT - 1], [VERDICT_AT + 1]], ids=["never", "before", "after"])
def test_journald_away_only_before_the_start_or_after_the_verdict_explains_nothing(stops: list[float]) -> None:
    assert not campaign_check.untold(lost_run(), [record(MSG_STARTED, STARTED_AT)], stops)


def test_a_unit_pid_1_never_started_is_not_untold() -> None:
    assert not campaign_check.untold(lost_run(), [], [STARTED_AT + 0.5])


@pytest.mark.parametrize(("state", "reason"), [(State.ERROR, "host unreachable"), (State.FAILURE, "exit code 1"),
                                               (State.SUCCESS, "")])
def test_only_an_outcome_recorded_lost_can_be_untold(state: State, reason: str) -> None:
    assert not campaign_check.untold(lost_run(state, reason), [record(MSG_STARTED, STARTED_AT)], [STARTED_AT + 0.5])


@pytest.mark.parametrize("end_untold", [True, False], ids=["untold", "told"])
def test_a_run_recorded_lost_is_counted_apart_only_when_its_end_was_untold(end_untold: bool) -> None:
    """The allowance spares the outcome's comparison only: the run is still checked as any other."""
    argv = ("/bin/sh", "program.sh", "/marks", "r1", "2", "0.1", "sigUSR1", "tag")
    run = replace(lost_run(), spec=RunSpec(run_id=RunId("r1"), argv=argv))
    report = campaign_check.Report(evidence=cast(campaign_check.Evidence, None))
    campaign_check.check_run(report, "program.sh", run, ["invocation"], [], {}, b"r1 1\nr1 2\n",
                             end_untold=end_untold)
    assert report.totals[campaign_check.UNTOLD] == (1 if end_untold else 0)
    assert [f.figure for f in report.findings] == ["wrong"] * (0 if end_untold else 1) + ["wrong"]
    assert "invocation" in report.findings[-1].detail  # the invocation recorded (none) is checked either way
