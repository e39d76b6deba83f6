"""/jobs with 10,000 jobs: the tree whole, and a search and a label within it, each saying its server time (how
fast is bench/web.py's to measure, not a test's)."""
from __future__ import annotations

import re
from pathlib import Path

from tests.unit.web.site import Site, on_site

COUNT = 10_000


def jobs() -> dict[str, str]:
    return {f"team{n % 10}/area{n % 100}/job{n:05d}": f"""
        program: echo {n}
        metadata:
          description: "Job number {n}, of team {n % 10}"
          labels: [team{n % 10}, {'odd' if n % 2 else 'even'}]
        """ for n in range(COUNT)}


def test_ten_thousand_jobs_are_all_in_the_tree_and_a_search_finds_its_share(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        timings = []
        for _ in range(3):  # the first makes the tree (the jobs' lines are made in the background from the start)
            async with site.client.get("http://apsis/jobs") as response:
                text = await response.text()
                assert response.status == 200
                timing = re.fullmatch(r"app;dur=([0-9.]+)", response.headers["Server-Timing"])
                assert timing is not None
                timings.append(float(timing[1]))
        assert text.count('<li class="job"') == COUNT
        assert len(timings) == 3
        async with site.client.get("http://apsis/jobs?q=area13&label=odd") as response:
            text = await response.text()
            assert text.count('<li class="job"') == COUNT // 100
            assert response.headers["Server-Timing"].startswith("app;dur=")

    on_site(tmp_path, jobs(), test)
