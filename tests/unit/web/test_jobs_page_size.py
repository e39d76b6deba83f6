"""/jobs with 10,000 jobs answers in under 100 ms of server time (its Server-Timing), the tree whole."""
from __future__ import annotations

import re
from pathlib import Path

from tests.unit.web.site import Site, on_site

COUNT = 10_000
LIMIT_MS = 100.0


def jobs() -> dict[str, str]:
    return {f"team{n % 10}/area{n % 100}/job{n:05d}": f"""
        program: echo {n}
        metadata:
          description: "Job number {n}, of team {n % 10}"
          labels: [team{n % 10}, {'odd' if n % 2 else 'even'}]
        """ for n in range(COUNT)}


def test_ten_thousand_jobs_in_under_100_ms(tmp_path: Path) -> None:
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
        assert min(timings) < LIMIT_MS, timings  # the best: the machine is shared
        async with site.client.get("http://apsis/jobs?q=area13&label=odd") as response:
            text = await response.text()
            assert text.count('<li class="job"') == COUNT // 100
            assert float(response.headers["Server-Timing"].split("=")[1]) < LIMIT_MS * 2

    on_site(tmp_path, jobs(), test)
