"""GET /metrics from a real apsisd: runs that succeed, fail, are retried and skipped (by an operator, by catch-up,
for a job removed while apsisd was down) counted as they happened, read back with prometheus_client's parser."""
from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from apsisd.runs.model import Origin
from apsisd.runs.state import State
from tests.integration.daemon import Daemon, explicit, finished, with_daemon

SOCKET = "/run/apsis/api.sock"


async def scrape(query: str = "") -> tuple[int, str, str]:
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET)) as session:
        async with session.get(f"http://apsis/metrics{query}") as response:
            return response.status, response.headers["Content-Type"], await response.text()


def samples(text: str) -> dict[str, float]:
    """'name{label="value",...}' -> value, labels sorted."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


async def call(method: str, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET)) as session:
        async with session.request(method, f"http://apsis{path}", json=body) as response:
            assert response.status in (200, 201), await response.text()
            return await response.json()


@with_daemon()
async def test_metrics_count_what_the_runs_did(daemon: Daemon) -> None:
    config = daemon.config("[reload]\nwatch = false\n")
    await daemon.start(*config)
    # Two runs to miss: added once apsisd is up (its start may take seconds on a busy machine), due soon after.
    due = datetime.now(UTC) + timedelta(seconds=3)
    daemon.job("missed", f"schedule: {explicit(due)}\nprogram: 'true'\nscheduling: {{catchup: none}}\n")
    daemon.job("gone", f"schedule: {explicit(due)}\nprogram: 'true'\n")
    await call("POST", "/api/v1/reload")
    await daemon.wait_runs(lambda runs: len(runs) == 2, what="the runs to miss")
    assert await daemon.stop() == 0
    daemon.remove_job("gone")
    daemon.job("ok", "program: 'sleep 0.2'\n")  # long enough to be seen running
    daemon.job("bad", "program: 'exit 3'\nretry: {count: 1}\n")
    daemon.job("later", "schedule: {type: interval, interval: 1h}\nprogram: 'true'\nscheduling: {max_scheduled: 3}\n")
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.1)  # the planned downtime
    await daemon.start(*config)

    await call("POST", "/api/v1/runs", {"job_id": "ok"})
    await call("POST", "/api/v1/runs", {"job_id": "bad"})
    await daemon.wait_runs(finished(1), "ok")
    bad = await daemon.wait_runs(finished(2), "bad", "the failed run and its retry")
    assert [(run.origin, run.state) for run in bad] == [(Origin.MANUAL, State.FAILURE), (Origin.RETRY, State.FAILURE)]
    skipped = [run for run in await daemon.runs() if run.state is State.SKIPPED]
    assert sorted(run.job_id for run in skipped) == ["gone", "missed"]
    later = await daemon.wait_runs(lambda runs: len(runs) == 3, "later", "three scheduled runs")
    await call("POST", f"/api/v1/runs/{later[0].id}/skip")
    await daemon.wait_runs(lambda runs: sum(run.state is State.SCHEDULED for run in runs) == 3, "later",
                           "a new scheduled run in place of the skipped one")

    status, content_type, text = await scrape()
    assert (status, content_type) == (200, CONTENT_TYPE_LATEST)  # version=0.0.4 in Debian 12's 0.16
    found = samples(text)
    in_flight = {f'apsis_runs_in_flight{{state="{state}"}}': 3 if state is State.SCHEDULED else 0
                 for state in State if not state.finished}
    assert {key: value for key, value in found.items() if key.startswith(("apsis_runs_", "apsis_jobs"))} == {
        **in_flight,
        "apsis_jobs": 4,
        'apsis_runs_finished_total{state="success"}': 1,
        'apsis_runs_finished_total{state="failure"}': 2,
        'apsis_runs_finished_total{state="error"}': 0,
        'apsis_runs_finished_total{state="skipped"}': 3,
        "apsis_runs_started_total": 3,
        'apsis_runs_failed_total{reason="failure"}': 2,
        'apsis_runs_failed_total{reason="timeout"}': 0,
        'apsis_runs_failed_total{reason="oom"}': 0,
        'apsis_runs_failed_total{reason="error"}': 0,
        "apsis_runs_retried_total": 1,
        'apsis_runs_skipped_total{reason="operator"}': 1,
        'apsis_runs_skipped_total{reason="catchup"}': 1,
        'apsis_runs_skipped_total{reason="condition"}': 0,
        'apsis_runs_skipped_total{reason="job_removed"}': 1,
        'apsis_runs_skipped_total{reason="other"}': 0,
    }
    ran = [run for run in await daemon.runs() if run.lateness is not None]
    assert found["apsis_run_lateness_seconds_count"] == len(ran) == 3
    assert abs(found["apsis_run_lateness_seconds_sum"] - sum(run.lateness or 0 for run in ran)) < 1e-6
    seen_running = [run for run in ran if State.RUNNING in run.times]
    assert found["apsis_run_duration_seconds_count"] == len(seen_running) >= 1
    assert found["apsis_run_duration_seconds_sum"] >= 0.2  # the sleep, at least
    assert (found["apsis_scheduling"], found["apsis_per_job_series"]) == (1, 1)
    assert (found['apsis_job_runs_finished_total{job_id="bad",state="failure"}'],
            found['apsis_job_runs_retried_total{job_id="bad"}'],
            found['apsis_job_runs_skipped_total{job_id="later",reason="operator"}'],
            found['apsis_job_runs_in_flight{job_id="later",state="scheduled"}'],
            found['apsis_job_run_lateness_seconds_count{job_id="ok"}']) == (2, 1, 1, 3, 1)
    assert not [key for key in found if 'job_id="gone"' in key]  # no longer loaded: no series of its own
    assert found["process_resident_memory_bytes"] > 0

    status, content_type, text = await scrape("?format=json")
    assert (status, content_type) == (400, "application/json; charset=utf-8")
    assert json.loads(text) == {"error": "unknown parameter 'format'; this endpoint takes: none"}

