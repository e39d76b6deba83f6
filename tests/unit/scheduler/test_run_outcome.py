"""settle(): every shape of systemd's Finished report -> success, failure or error, with the reason in words.

(Named test_run_outcome.py: tests/unit/systemd/test_outcome.py holds the
systemd layer's own outcome tests, and test basenames are unique.)
"""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from agentd.host import Finished
from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.outcome import STOP_TIME_REASON, settle

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SPEC = RunSpec(run_id=RunId("r5"), shell="sleep 60")
INT_SPEC = RunSpec(run_id=RunId("r5"), shell="sleep 60", stop_signal="INT")


def run(state: State = State.RUNNING, reason: str = "running as apsis-r5.service", spec: RunSpec = SPEC) -> Run:
    return Run(id=RunId("r5"), job_id=JobId("j"), state=state, schedule_time=T0, reason=reason, spec=spec,
               invocation_id="inv-from-start")


def finished(result: str, *, exit_code: int | None = None, signal: str | None = None, stop_requested: bool = False,
             signals_sent: tuple[str, ...] = (), invocation_id: str | None = "inv") -> Finished:
    return Finished(run_id=RunId("r5"), unit="apsis-r5.service", invocation_id=invocation_id, result=result,
                    exit_code=exit_code, signal=signal, start_time=T0, end_time=T0 + timedelta(seconds=3),
                    cpu_time_ns=12_000_000, memory_peak=1 << 20, stop_requested=stop_requested,
                    signals_sent=signals_sent)


RUNNING = run()
STOPPING = run(State.STOPPING, "stop requested by an operator")
AT_STOP_TIME = run(State.STOPPING, STOP_TIME_REASON)
AT_STOP_TIME_INT = run(State.STOPPING, STOP_TIME_REASON, INT_SPEC)
GRACE_KILL = "did not end on its stop signal: killed by signal KILL after the grace period"

# (what, the run as stored, what the host reported) -> (state, reason)
CASES: list[tuple[str, Run, Finished, State, str]] = [
    ("success", RUNNING, finished("success", exit_code=0), State.SUCCESS, "exit code 0"),
    ("a non-zero exit", RUNNING, finished("exit-code", exit_code=3), State.FAILURE, "exit code 3"),
    ("killed by a signal from elsewhere (systemctl kill)", RUNNING, finished("signal", signal="KILL"), State.FAILURE,
     "killed by signal KILL, sent from outside apsis"),
    ("a core dump", RUNNING, finished("core-dump", signal="SEGV"), State.FAILURE, "killed by signal SEGV"),
    ("SIGTERM from elsewhere: systemd says success, we do not", RUNNING, finished("success", signal="TERM"),
     State.FAILURE, "killed by signal TERM, sent from outside apsis"),
    ("its timeout (RuntimeMaxSec)", RUNNING, finished("timeout", signal="TERM"), State.FAILURE,
     "timed out: killed after its timeout"),
    ("its timeout, then SIGKILL", RUNNING, finished("timeout", signal="KILL"), State.FAILURE,
     "timed out: killed after its timeout"),
    ("out of memory", RUNNING, finished("oom-kill", signal="KILL"), State.FAILURE,
     "killed by the OOM killer (out of memory)"),
    ("a result without exit or signal", RUNNING, finished("resources"), State.FAILURE, "systemd result resources"),
    ("the outcome was lost", RUNNING, finished("unknown", invocation_id=None), State.ERROR,
     "outcome lost: systemd result unknown"),
    ("the outcome was lost, even of a stopped run", AT_STOP_TIME, finished("unknown", stop_requested=True),
     State.ERROR, "outcome lost: systemd result unknown"),
    # Stopped by an operator: never a success, however it ended.
    ("stopped: died of SIGTERM", STOPPING, finished("success", signal="TERM", stop_requested=True),
     State.FAILURE, "stopped on request: killed by signal TERM"),
    ("stopped: trapped SIGTERM and exited 0", STOPPING, finished("success", exit_code=0, stop_requested=True),
     State.FAILURE, "stopped on request: exit code 0"),
    ("stopped: trapped SIGTERM and exited 1", STOPPING, finished("exit-code", exit_code=1, stop_requested=True),
     State.FAILURE, "stopped on request: exit code 1"),
    ("stopped: needed SIGKILL after the grace period", STOPPING,
     finished("timeout", signal="KILL", stop_requested=True), State.FAILURE, f"stopped on request: {GRACE_KILL}"),
    ("stopped with systemctl stop (a stop job seen in the journal)", RUNNING,
     finished("success", signal="TERM", stop_requested=True), State.FAILURE,
     "stopped outside apsis (systemctl stop): killed by signal TERM"),
    # Stopped at its stop time: ending then, on the stop signal, is what success means.
    ("stop time: exited 0", AT_STOP_TIME, finished("success", exit_code=0, stop_requested=True), State.SUCCESS,
     "stopped at its stop time: exit code 0"),
    ("stop time: died of its stop signal", AT_STOP_TIME, finished("success", signal="TERM", stop_requested=True),
     State.SUCCESS, "stopped at its stop time: killed by signal TERM"),
    ("stop time: died of its own stop signal that systemd counts unclean", AT_STOP_TIME_INT,
     finished("signal", signal="INT", stop_requested=True), State.SUCCESS,
     "stopped at its stop time: killed by signal INT"),
    ("stop time: died of another signal", AT_STOP_TIME, finished("signal", signal="SEGV", stop_requested=True),
     State.FAILURE, "stopped at its stop time: killed by signal SEGV"),
    ("stop time: exited 1", AT_STOP_TIME, finished("exit-code", exit_code=1, stop_requested=True), State.FAILURE,
     "stopped at its stop time: exit code 1"),
    ("stop time: needed SIGKILL", AT_STOP_TIME, finished("timeout", signal="KILL", stop_requested=True),
     State.FAILURE, f"stopped at its stop time: {GRACE_KILL}"),
    ("stop time: ended by itself just before", AT_STOP_TIME, finished("success", exit_code=0), State.SUCCESS,
     "exit code 0"),
    # Signals sent with kill(): never a success either, and the reason says why an exit 0 is not one.
    ("a signal sent, then exit 0", RUNNING, finished("success", exit_code=0, signals_sent=("USR1",)),
     State.FAILURE, "exit code 0, after signals sent on request: USR1"),
    ("killed on request", RUNNING, finished("signal", signal="KILL", signals_sent=("USR1", "KILL")),
     State.FAILURE, "killed by signal KILL, after signals sent on request: USR1, KILL"),
]


@pytest.mark.parametrize(("what", "stored", "report", "state", "reason"), CASES, ids=[case[0] for case in CASES])
def test_settle(what: str, stored: Run, report: Finished, state: State, reason: str) -> None:
    got_state, got_reason, _ = settle(stored, report)
    assert (got_state, got_reason) == (state, reason)


def test_the_facts_kept_on_the_run() -> None:
    _, _, facts = settle(RUNNING, finished("exit-code", exit_code=2))
    assert facts == {"unit": "apsis-r5.service", "invocation_id": "inv", "exit_code": 2, "signal": None,
                     "result": "exit-code", "cpu_time_ns": 12_000_000, "memory_peak": 1 << 20}


def test_an_invocation_id_the_report_lacks_is_kept_from_the_start() -> None:
    _, _, facts = settle(RUNNING, finished("unknown", invocation_id=None))
    assert facts["invocation_id"] == "inv-from-start"


def test_a_stop_time_run_without_a_spec_knows_only_systemds_clean_signals() -> None:
    """A run recovered without its spec (none was kept) still succeeds on exit 0 or systemd's success."""
    bare = replace(run(State.STOPPING, STOP_TIME_REASON), spec=None)
    assert settle(bare, finished("success", signal="TERM", stop_requested=True))[0] is State.SUCCESS
    assert settle(bare, finished("signal", signal="INT", stop_requested=True))[0] is State.FAILURE


def test_output_that_may_lack_lines_is_said_in_the_reason_whatever_the_state() -> None:
    lost = "its unit ended before journald had read all of it"
    state, reason, _facts = settle(RUNNING, replace(finished("success", exit_code=0), output_lost=lost))
    assert (state, reason) == (State.SUCCESS, f"exit code 0; output incomplete: {lost}")
    state, reason, _facts = settle(RUNNING, replace(finished("exit-code", exit_code=2), output_lost=lost))
    assert (state, reason) == (State.FAILURE, f"exit code 2; output incomplete: {lost}")
