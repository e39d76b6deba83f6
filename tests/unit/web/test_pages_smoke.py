"""Each page answers HTML for an admin on the socket, with what it is for."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from agentd.types import RunId
from apsisd.runs.state import State
from apsisd.scheduler import history
from tests.unit.scheduler.rig import START
from tests.unit.web.site import Site, on_site

JOBS = {"hello": """
    program: echo hello
    schedule: {type: interval, interval: 60}
    """}


def test_the_runs_page_lists_the_runs_and_a_run_page_shows_one(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        site.rig.move_to(START + timedelta(seconds=61))
        await site.rig.until(lambda: bool(site.rig.scheduled("hello")))
        status, text = await site.get("/runs")
        assert status == 200, text
        assert 'data-run-id="r' in text
        listed = re.findall(r'<tr data-run-id="(r\d+)"', text)
        assert {run.id for run in site.rig.scheduled("hello")} <= set(listed)  # the runs it has are the page's
        run_id = RunId(text.split('data-run-id="', 2)[1].split('"')[0])
        await site.rig.until_state(run_id, State.SUCCESS, State.SCHEDULED, State.RUNNING)
        status, text = await site.get(f"/runs/{run_id}")
        assert status == 200, text
        assert run_id in text and "hello" in text
        status, text = await site.get("/runs/r999999")
        assert status == 404 and "no run r999999" in text.lower()

    on_site(tmp_path, JOBS, test)


def test_a_page_says_its_server_time_its_change_and_its_policy(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        site.rig.move_to(START + timedelta(seconds=61))
        await site.rig.until(lambda: site.rig.scheduler.records.feed.last > 0)
        status, headers, text = await site.answer("/runs")
        assert status == 200
        assert headers["Server-Timing"].startswith("app;dur=")
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        seq = int(text.split('data-live-seq="', 1)[1].split('"', 1)[0])
        assert 0 < seq <= site.rig.scheduler.records.feed.last

    on_site(tmp_path, JOBS, test)


def test_a_bug_in_a_page_is_a_page_and_the_api_stays_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("the secret detail")

    async def test(site: Site) -> None:
        monkeypatch.setattr(history, "runs_page", broken)
        status, headers, text = await site.answer("/runs")
        assert status == 500 and headers["Content-Type"].startswith("text/html")
        assert "Something went wrong" in text and "the secret detail" not in text
        status, headers, _ = await site.answer("/api/v1/runs")
        assert status == 500 and headers["Content-Type"].startswith("application/json")
        status, headers, text = await site.answer("/nowhere")
        assert status == 404

    on_site(tmp_path, JOBS, test)
