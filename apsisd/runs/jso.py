"""A run as JSON: the one shape every client sees (the API, `--json`, the live stream, webhooks)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apsisd.runs.model import Run


def run_jso(run: Run) -> dict[str, Any]:
    """The run's fields as plain JSON values; times ISO 8601 in UTC, lateness in seconds."""
    return {
        "run_id": run.id,
        "job_id": run.job_id,
        "args": dict(run.args),
        "state": str(run.state),
        "times": {"schedule": instant(run.schedule_time),
                  **{str(state): instant(time) for state, time in run.times.items()},
                  **({"stop": instant(run.stop_time)} if run.stop_time is not None else {})},
        "origin": str(run.origin),
        "attempt": run.attempt,
        "previous": run.previous,
        "reason": run.reason,
        "unit": run.unit,
        "invocation_id": run.invocation_id,
        "exit_code": run.exit_code,
        "signal": run.signal,
        "result": run.result,
        "cpu_time_ns": run.cpu_time_ns,
        "memory_peak": run.memory_peak,
        "lateness": run.lateness,
        "host": run.host,
    }


def instant(moment: datetime) -> str:
    """An instant as every JSON shape writes it: ISO 8601 in UTC, to the microsecond."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
