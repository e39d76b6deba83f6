"""/jobs/{job_id}: the description as safe Markdown, labels, params, schedules with their next runs, the program
less what a reader may not see, conditions, actions, retries, host, recent runs, the start form; a 404 with the
ids like the one asked for."""
from __future__ import annotations

import json
import re
from pathlib import Path

from agentd.types import JobId, RunId
from apsisd.runs.model import Origin
from apsisd.runs.state import State
from apsisd.store.base import RunQuery
from tests.unit.web.site import Site, Tcp, on_site, on_tcp

JOBS = {
    "etl/load": """
        params: [date, region]
        program:
          type: shell
          command: echo {{ date }} {{ region }}
          env: {PASSWORD: hunter2}
        schedule: {type: daily, daytime: "09:30", tz: Europe/Paris, args: {region: eu}}
        retry: {count: 2, delay: 60}
        condition: {type: max_running, count: 1}
        action: {type: schedule, job_id: report, if: {states: [failure]}}
        metadata:
          labels: [etl]
          description: |
            # Loads the warehouse
            Ask **ops** first. <script>alert("x")</script> <b onmouseover="x()">bold</b>
            [click](javascript:alert(1)) and [the wiki](https://wiki.example/etl)
        """,
    "report": """
        program: echo report
        """,
}


def csrf_of(text: str) -> str:
    found = re.search(r'<meta name="apsis-csrf" content="([^"]+)"', text)
    assert found is not None, "no form token in the page"
    return found[1]


def between(text: str, start: str, end: str) -> str:
    return text[text.index(start):][:text[text.index(start):].index(end)]


def test_the_description_is_markdown_with_no_html_and_no_javascript_links(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        status, text = await site.get("/jobs/etl/load")
        assert status == 200, text
        description = between(text, '<section class="description"', "</section>")
        assert "<h1>Loads the warehouse</h1>" in description and "<strong>ops</strong>" in description
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in description  # shown as text
        assert "<script" not in description and "<b " not in description
        assert "javascript:" not in re.sub(r"\[click\]\(javascript:alert\(1\)\)", "", description)
        assert "[click](javascript:alert(1))" in description  # left as text, not a link
        assert '<a href="https://wiki.example/etl">the wiki</a>' in description

    on_site(tmp_path, JOBS, test)


def test_it_shows_what_the_job_is_and_when_it_runs_next(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        _, text = await site.get("/jobs/etl/load")
        assert 'href="/jobs?label=etl"' in text
        assert "date, region" in text and "Europe/Paris" in text
        assert "daily 09:30 (Europe/Paris)" in text
        next_runs = between(text, '<table id="next">', "</table>")
        times = re.findall(r'<time datetime="([^"]+)"', next_runs)
        assert len(times) == 10 and times == sorted(times)
        assert times[0].startswith("2026-12-0") and "T08:30:00" in times[0]  # 09:30 in Paris, in UTC
        assert "region=eu" in next_runs
        program = between(text, '<pre id="program">', "</pre>")
        assert "echo {{ date }} {{ region }}" in program and "hunter2" in program  # an admin sees env values
        assert "max_running" in text and "job_id: report" in text and "count: 2" in text
        assert '<a href="/hosts">local</a>' in text

    on_site(tmp_path, JOBS, test)


def test_a_reader_does_not_see_the_programs_secrets_nor_the_start_form(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        viewer = await tcp.signed_in("viewer")
        status, text = await viewer.get("/jobs/etl/load")
        assert status == 200, text
        assert "hunter2" not in text and "PASSWORD" in text
        assert 'id="start"' not in text
        status, _, _ = await viewer.submit("/jobs/etl/load/run", {"arg:date": "x", "arg:region": "y",
                                                                  "csrf": csrf_of(text)})
        assert status == 403  # refused before the route, whatever the page shows
        runs = await tcp.rig.store.runs(RunQuery(job_id=JobId("etl/load")))
        assert [run for run in runs if run.origin is Origin.MANUAL] == []
        ops = await tcp.signed_in("ops")
        status, text = await ops.get("/jobs/etl/load")
        assert 'id="start"' in text and "hunter2" in text
        form = between(text, '<form method="post" action="/jobs/etl/load/run"', "</form>")
        assert f'name="csrf" value="{csrf_of(text)}"' in form  # the form carries the session's token
        status, where, _ = await ops.submit("/jobs/etl/load/run", {"arg:date": "x", "arg:region": "y",
                                                                   "csrf": csrf_of(text)})
        assert status == 303 and where.startswith("/runs/r")

    on_tcp(tmp_path, JOBS, test)


def test_the_start_form_creates_a_run_with_its_args(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        _, text = await site.get("/jobs/etl/load")
        form = between(text, '<form method="post" action="/jobs/etl/load/run"', "</form>")
        assert 'name="arg:date"' in form and 'name="arg:region"' in form
        response = await site.post("/jobs/etl/load/run", {"arg:date": "2026-12-01", "arg:region": "us"})
        assert response.status == 303, await response.text()
        run_id = RunId(response.headers["Location"].removeprefix("/runs/"))
        run = await site.rig.until_state(run_id, State.SCHEDULED, State.STARTING, State.RUNNING, State.SUCCESS)
        assert run.args == {"date": "2026-12-01", "region": "us"} and run.job_id == "etl/load"
        status, text = await site.get(f"/runs/{run_id}")
        assert "date=2026-12-01" in text
        # A missing arg: the form again, with the problem and what was typed.
        status, _, text = await site.submit("/jobs/etl/load/run", {"arg:date": "2026-12-02"})
        assert status == 400
        assert "missing: region" in text and 'value="2026-12-02"' in text
        runs = await site.rig.store.runs(RunQuery(job_id=JobId("etl/load")))
        assert [run.id for run in runs if run.origin is Origin.MANUAL] == [run_id]  # none made of the refused

    on_site(tmp_path, JOBS, test)


def test_an_unknown_job_is_a_404_page_with_the_ids_like_it(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        status, text = await site.get("/jobs/etl/lod")
        assert status == 404
        assert "There is no job etl/lod" in text and '<a href="/jobs/etl/load">etl/load</a>' in text

    on_site(tmp_path, JOBS, test)


def test_its_recent_runs_are_those_under_way_or_ended(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        _, text = await site.get("/jobs/report")
        assert 'id="recent"' not in text and "None under way or ended yet" in text
        made = await site.post("/jobs/report/run")
        run_id = RunId(made.headers["Location"].removeprefix("/runs/"))
        await site.rig.until_state(run_id, State.RUNNING)
        _, text = await site.get("/jobs/report")
        recent = between(text, '<table id="recent">', "</table>")
        assert f'data-run-id="{run_id}"' in recent and "state-running" in recent
        assert 'href="/runs?job=report"' in text

    on_site(tmp_path, JOBS, test)


def test_the_next_runs_are_the_apis(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        _, text = await site.get("/jobs/etl/load")
        shown = re.findall(r'<time datetime="([^"]+)"', between(text, '<table id="next">', "</table>"))
        status, body = await site.get("/api/v1/jobs/etl/load")
        assert status == 200
        assert shown == [due["time"] for due in json.loads(body)["next"]]
        status, body = await site.get("/api/v1/jobs/etl/lod")
        assert status == 404 and "did you mean etl/load?" in body

    on_site(tmp_path, JOBS, test)
