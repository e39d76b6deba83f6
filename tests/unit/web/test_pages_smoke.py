"""Each page answers HTML for an admin on the socket, with what it is for."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agentd.types import RunId
from apsisd.runs.state import State
from tests.unit.scheduler.rig import START
from tests.unit.web.site import Site, on_site

JOBS = {"hello": """
    program: echo hello
    schedule: {type: interval, interval: 60}
    """}


def test_the_runs_page_lists_the_runs_and_a_run_page_shows_one(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        site.rig.move_to(START + timedelta(seconds=61))
        first = site.rig.scheduled("hello") or []
        status, text = await site.get("/runs")
        assert status == 200, text
        assert 'data-run-id="r' in text
        run_id = RunId(text.split('data-run-id="', 2)[1].split('"')[0])
        await site.rig.until_state(run_id, State.SUCCESS, State.SCHEDULED, State.RUNNING)
        status, text = await site.get(f"/runs/{run_id}")
        assert status == 200, text
        assert run_id in text and "hello" in text
        status, text = await site.get("/runs/r999999")
        assert status == 404 and "no run r999999" in text.lower()
        assert first is not None

    on_site(tmp_path, JOBS, test)
