"""How a run ended, in apsis's terms: systemd's report -> success, failure or error, with a reason in words.

systemd reports a run that died of its stop signal, after a stop, as a
success; apsis never does, except when the stop was the run's own stop time
(a stop schedule ends runs as planned: ending then, by exiting 0 or dying of
the stop signal, is what success means). A stop or a signal apsis did not ask
for (an operator's `systemctl stop` or `systemctl kill`) is said to be one.
"""
from __future__ import annotations

from typing import Any

from agentd.host import Finished
from agentd.spec import parse_signal
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
    if finished.output_lost is not None:
        how = f"{how}; output incomplete: {finished.output_lost}"
    if finished.result == "unknown":
        return State.ERROR, f"outcome lost: {how}", facts
    if finished.succeeded:
        return State.SUCCESS, how, facts
    if run.state is State.STOPPING and run.reason == STOP_TIME_REASON:
        state = State.SUCCESS if _ended_by_its_stop(run, finished) else State.FAILURE
        return state, f"stopped at its stop time: {how}", facts
    if finished.stop_requested and run.state is State.STOPPING:
        return State.FAILURE, f"stopped on request: {how}", facts
    if finished.stop_requested:  # a stop job apsis did not ask for
        return State.FAILURE, f"stopped outside apsis (systemctl stop): {how}", facts
    if finished.signals_sent:  # else an exit 0 would read as a failure without a cause
        return State.FAILURE, f"{how}, after signals sent on request: {', '.join(finished.signals_sent)}", facts
    if finished.signal is not None and finished.result in ("signal", "success"):  # not a crash (core-dump)
        return State.FAILURE, f"{how}, sent from outside apsis", facts
    return State.FAILURE, how, facts


def _ended_by_its_stop(run: Run, finished: Finished) -> bool:
    """Exited 0, or died of the run's own stop signal (systemd calls only TERM, INT, HUP and PIPE clean)."""
    if finished.signal is not None and run.spec is not None:
        return finished.signal == parse_signal(run.spec.stop_signal).name.removeprefix("SIG")
    return finished.exit_code == 0 or finished.result == "success"


def _how(finished: Finished) -> str:
    if finished.result == "timeout" and finished.stop_requested:
        # The stop's grace period ran out (systemd calls that a timeout too), not the run's own timeout.
        return f"did not end on its stop signal: killed by signal {finished.signal or 'KILL'} after the grace period"
    if finished.result == "timeout":
        return "timed out: killed after its timeout"
    if finished.result == "oom-kill":
        return "killed by the OOM killer (out of memory)"
    if finished.signal is not None:
        return f"killed by signal {finished.signal}"
    if finished.exit_code is not None:
        return f"exit code {finished.exit_code}"
    return f"systemd result {finished.result}"
