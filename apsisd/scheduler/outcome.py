"""How a run ended, in apsis's terms: systemd's report -> success, failure or error, with a reason in words.

systemd reports a run that died of its stop signal, after a stop, as a
success; apsis never does, except when the stop was the run's own stop time
(a stop schedule ends runs as planned: ending then is what success means).
"""
from __future__ import annotations

from typing import Any

from apsisd.hosts.base import Finished
from apsisd.runs.model import Run
from apsisd.runs.state import State

STOP_TIME_REASON = "stop time reached"


def settle(run: Run, finished: Finished) -> tuple[State, str, dict[str, Any]]:
    """The finished state, its reason, and the facts to keep on the run."""
    facts: dict[str, Any] = {
        "unit": finished.unit, "invocation_id": finished.invocation_id or run.invocation_id,
        "exit_code": finished.exit_code, "signal": finished.signal, "result": finished.result,
        "cpu_time_ns": finished.cpu_time_ns, "memory_peak": finished.memory_peak,
    }
    how = _how(finished)
    if finished.result == "unknown":
        return State.ERROR, f"outcome lost: {how}", facts
    if finished.succeeded:
        return State.SUCCESS, how, facts
    planned = run.state is State.STOPPING and run.reason == STOP_TIME_REASON
    if planned and (finished.result == "success" or finished.exit_code == 0):
        return State.SUCCESS, f"stopped at its stop time: {how}", facts
    if finished.stop_requested:
        return State.FAILURE, f"stopped on request: {how}", facts
    return State.FAILURE, how, facts


def _how(finished: Finished) -> str:
    if finished.result == "timeout":
        return "timed out: killed after its timeout"
    if finished.result == "oom-kill":
        return "killed by the OOM killer (out of memory)"
    if finished.signal is not None:
        return f"killed by signal {finished.signal}"
    if finished.exit_code is not None:
        return f"exit code {finished.exit_code}"
    return f"systemd result {finished.result}"
