"""A run's actions: which its state allows, the question asked before each (the page without JavaScript), and
each done through the same operation as the API's."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agentd.types import JobId, RunId
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.web.actions import allowed
from tests.unit.scheduler.rig import START
from tests.unit.web.site import Site, on_site

LATER = {"later": """
    program: echo later
    schedule: {type: explicit, times: ["2026-12-01T12:05:00Z"]}
    """}


async def first_scheduled(site: Site) -> RunId:
    await site.rig.until(lambda: bool(site.rig.scheduled("later")))
    return site.rig.scheduled("later")[0].id


@pytest.mark.parametrize(("state", "names"), [
    (State.SCHEDULED, ["start", "skip"]), (State.WAITING, ["start", "skip"]), (State.STARTING, []),
    (State.RUNNING, ["stop", "kill"]), (State.STOPPING, ["kill"]), (State.SUCCESS, ["rerun"]),
    (State.FAILURE, ["rerun"]), (State.ERROR, ["rerun"]), (State.SKIPPED, ["rerun"]), (State.NEW, []),
])
def test_each_state_allows_its_actions(state: State, names: list[str]) -> None:
    run = Run(id=RunId("r1"), job_id=JobId("j"), state=state, schedule_time=START)
    assert [action.name for action in allowed(run)] == names


def test_a_scheduled_run_is_skipped_after_its_question(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        run_id = await first_scheduled(site)
        status, page = await site.get(f"/runs/{run_id}")
        assert status == 200
        assert f'href="/runs/{run_id}/skip"' in page and f'href="/runs/{run_id}/start"' in page
        assert "/stop" not in page and "Mark as" not in page
        status, question = await site.get(f"/runs/{run_id}/skip")
        assert status == 200 and "It will never run" in question and 'method="post"' in question
        answer = await site.post(f"/runs/{run_id}/skip")
        assert answer.status == 303 and answer.headers["Location"] == f"/runs/{run_id}"
        assert (await site.rig.until_state(run_id, State.SKIPPED)).state is State.SKIPPED
        status, page = await site.get(f"/runs/{run_id}")
        assert "Run again" in page and "Mark as" in page and f'href="/runs/{run_id}/skip"' not in page

    on_site(tmp_path, LATER, test)


def test_an_action_the_state_does_not_allow_is_refused_as_a_page(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        run_id = await first_scheduled(site)
        answer = await site.post(f"/runs/{run_id}/stop")
        assert answer.status == 409
        assert answer.headers["Content-Type"].startswith("text/html")
        assert site.rig.scheduled("later")[0].state is State.SCHEDULED
        assert (await site.post(f"/runs/{run_id}/explode")).status == 404
        assert (await site.post(f"/runs/{run_id}/mark", {"state": "nonsense"})).status == 400

    on_site(tmp_path, LATER, test)


def test_a_rerun_goes_to_the_new_run(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        run_id = await first_scheduled(site)
        await site.post(f"/runs/{run_id}/skip")
        answer = await site.post(f"/runs/{run_id}/rerun")
        assert answer.status == 303 and answer.headers["Location"] != f"/runs/{run_id}"
        answer = await site.post(f"/runs/{run_id}/mark", {"state": "failure"})
        assert answer.status == 303
        assert (await site.rig.until_state(run_id, State.FAILURE)).state is State.FAILURE

    on_site(tmp_path, LATER, test, at=START + timedelta(seconds=1))
