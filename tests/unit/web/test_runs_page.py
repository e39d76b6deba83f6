"""The runs page on the rig: the rows its filters select, the line at now in time order, a job's args as columns,
the ad hoc mark, and the pages of a long history."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from agentd.types import RunId
from apsisd.runs.state import State
from tests.unit.scheduler.rig import START
from tests.unit.web.site import Site, on_site

JOBS = {
    "twice": """
        program: echo twice
        schedule: {type: explicit, times: ["2026-12-01T12:00:00Z", "2026-12-01T12:04:00Z"]}
        """,
    "dated": """
        program: echo {{ date }}
        params: [date]
        """,
}


def shown(text: str) -> list[str]:
    """The run ids of the page's rows, and 'now' where the line at now is, in the page's order."""
    return [match[0] or "now" for match in re.findall(r'<tr data-run-id="(r\d+)"|<tr class="(now)"', text)]


def test_by_schedule_time_a_line_marks_now(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        await site.rig.until(lambda: len(site.rig.scheduled("twice")) == 2)
        first, second = (run.id for run in site.rig.scheduled("twice"))
        site.rig.move_to(START + timedelta(seconds=31))
        await site.rig.until_state(first, State.RUNNING, State.SUCCESS)
        status, text = await site.get("/runs?order=time")
        assert status == 200, text
        assert shown(text) == [second, "now", first]
        status, text = await site.get("/runs")
        assert "now" not in shown(text)

    on_site(tmp_path, JOBS, test)


def test_one_job_shows_its_args_as_columns_and_filters_select_the_rows(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        made = []
        for day in ("2026-12-01", "2026-12-02"):
            answer = await site.client.post("http://apsis/api/v1/runs", json={"job_id": "dated", "args": {"date": day}})
            made.append(RunId((await answer.json())["runs"][0]["run_id"]))
        adhoc = await site.client.post("http://apsis/api/v1/runs", json={"program": "echo by hand"})
        adhoc_id = (await adhoc.json())["runs"][0]["run_id"]
        _, text = await site.get("/runs?job=dated")
        assert sorted(shown(text)) == sorted(made)
        assert "<th>date</th>" in text and "<td>2026-12-02</td>" in text
        _, text = await site.get("/runs?job=dated&arg=date%3D2026-12-02")
        assert shown(text) == [made[1]]
        _, text = await site.get("/runs?origin=adhoc")
        assert shown(text) == [adhoc_id] and "ad hoc</span>" in text
        _, text = await site.get("/runs?origin=manual&state=failure")
        assert shown(text) == []
        _, text = await site.get("/runs?state=nonsense")
        assert shown(text) == [] and "state: &#39;nonsense&#39; is not a state" in text

    on_site(tmp_path, JOBS, test)


def test_the_pages_of_the_history_follow_one_another(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        answer = await site.client.post("http://apsis/api/v1/runs", json={
            "job_id": "dated", "args": {"date": "2026-12-01"}, "count": 120})
        assert answer.status == 201
        seen: list[str] = []
        url = "/runs?job=dated&limit=50"
        while url:
            _, text = await site.get(url)
            seen += shown(text)
            found = re.search(r'<a href="([^"]+)" rel="next">', text)
            url = found[1].replace("&amp;", "&") if found else ""
        assert len(seen) == 120 == len(set(seen))
        assert seen == sorted(seen, key=lambda run_id: -int(run_id[1:]))

    on_site(tmp_path, JOBS, test)


def test_the_live_rows_are_matched_against_the_bounds_as_the_server_read_them(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        _, text = await site.get("/runs?since=2026-12-01T09:30&until=2026-12-01T12:00:00%2B01:00")
        live = text.split('data-filter="', 1)[1].split('"', 1)[0].replace("&#34;", '"')
        assert '"since": "2026-12-01T09:30:00.000000+00:00"' in live  # no offset: UTC, as the form says
        assert '"until": "2026-12-01T11:00:00.000000+00:00"' in live

    on_site(tmp_path, JOBS, test)
