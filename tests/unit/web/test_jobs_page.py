"""/jobs: the folder as a tree, searched and filtered by labels, each job with its schedules in words, its last
run's state and a link to its runs; fast with 10,000 jobs."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from apsisd.runs.state import State
from tests.unit.web.site import Site, on_site

JOBS = {
    "etl--load": """
        program: echo load
        schedule: {type: interval, interval: 300}
        metadata: {description: "Loads the warehouse", labels: [etl, nightly]}
        """,
    "etl--extract": """
        program: echo extract
        schedule: {type: cron, expr: "15 2 * * *", tz: Europe/Paris}
        metadata: {description: "Reads the **sources**", labels: [etl]}
        """,
    "report": """
        program: "exit 3"
        schedule: {type: interval, interval: 60}
        metadata: {labels: [nightly]}
        """,
}


def ids(text: str) -> list[str]:
    return re.findall(r'<li class="job" data-job-id="([^"]+)"', text)


def test_the_tree_has_a_folder_per_path_and_each_job_says_what_it_is(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        status, text = await site.get("/jobs")
        assert status == 200, text
        assert ids(text) == ["etl/extract", "etl/load", "report"]
        folder = text.index('data-folder="etl"')
        assert folder < text.index('data-job-id="etl/extract"') < text.index("</details>", folder) \
            < text.index('data-job-id="report"')  # the etl folder holds its two jobs, and report is outside
        assert "<summary>etl/ <small" in text
        assert "every 5 min" in text and "cron 15 2 * * * (Europe/Paris)" in text and "every 1 min" in text
        assert 'href="/runs?job=etl/load"' in text
        assert "3 of 3 jobs" in text

    on_site(tmp_path, {job_id.replace("--", "/"): text for job_id, text in JOBS.items()}, test)


def test_search_looks_in_ids_and_descriptions(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        _, text = await site.get("/jobs?q=LOAD")
        assert ids(text) == ["etl/load"]
        _, text = await site.get("/jobs?q=sources")  # in the description only
        assert ids(text) == ["etl/extract"]
        _, text = await site.get("/jobs?q=nothing-like-it")
        assert ids(text) == [] and "No job matches" in text
        _, text = await site.get("/jobs")
        assert 'data-job-id="etl/extract"' in text  # what static/jobs.js filters on, with the line below
        assert '<div class="muted small">Reads the sources</div>' in text  # the description's first line, plain

    on_site(tmp_path, {job_id.replace("--", "/"): text for job_id, text in JOBS.items()}, test)


def test_labels_filter_to_the_jobs_with_all_of_them_and_each_label_links_to_its_filter(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        _, text = await site.get("/jobs?label=nightly")
        assert ids(text) == ["etl/load", "report"]
        _, text = await site.get("/jobs?label=nightly&label=etl")
        assert ids(text) == ["etl/load"]
        assert 'href="/jobs?label=nightly"' in text  # dropping etl keeps nightly
        _, text = await site.get("/jobs?q=e&label=nightly")
        assert 'href="/jobs?q=e&amp;label=nightly&amp;label=etl"' in text  # a label's link adds it to the filter

    on_site(tmp_path, {job_id.replace("--", "/"): text for job_id, text in JOBS.items()}, test)


def test_each_job_shows_its_last_run_state(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        _, text = await site.get("/jobs")
        assert "no run yet" in text or "…" in text
        first = site.rig.scheduled("report")[0]
        site.rig.move_to(first.schedule_time + timedelta(seconds=1))
        await site.rig.until_state(first.id, State.RUNNING)
        _, text = await site.get("/jobs")
        assert f'data-last-run="{first.id}"' in text and "state-running" in text
        site.rig.host.finish(first.id, exit_code=3)
        await site.rig.until_state(first.id, State.FAILURE)
        _, text = await site.get("/jobs")
        row = text[text.index('data-job-id="report"'):]
        row = row[:row.index("</li>")]
        assert f'data-last-run="{first.id}"' in row and "state-failure" in row

    on_site(tmp_path, {job_id.replace("--", "/"): text for job_id, text in JOBS.items()}, test)
