"""/hosts: each host as GET /api/v1/hosts shows it: state, since, problem, agentd, hostname, clock skew, runs under
way with a link to them."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agentd.host import LinkStatus
from agentd.types import RunId
from apsisd.runs.state import State
from tests.unit.web.site import Site, on_site

JOBS = {"on-db1": "program: sleep 100\nhost: db1\n"}
SINCE = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


def row(text: str, host: str) -> str:
    start = text.index(f'<tr data-host="{host}"')
    return text[start:text.index("</tr>", start)]


def test_each_host_with_its_link_and_its_runs_under_way(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        hosts = site.rig.hosts
        hosts["db1"].link_status = lambda: LinkStatus(  # type: ignore[attr-defined]
            reachable=True, tried=True, since=SINCE, problem="", agentd="1.2.3", hostname="db1.example",
            clock_skew=3.5)
        hosts["db2"].link_status = lambda: LinkStatus(  # type: ignore[attr-defined]
            reachable=False, tried=True, since=SINCE, problem="Host key verification failed", agentd=None,
            hostname=None, clock_skew=None)
        status, where, _ = await site.submit("/jobs/on-db1/run")
        assert status == 303
        await site.rig.until_state(RunId(where.removeprefix("/runs/")), State.RUNNING)
        status, text = await site.get("/hosts")
        assert status == 200, text
        assert text.index('data-host="local"') < text.index('data-host="db1"') < text.index('data-host="db2"')
        db1, db2 = row(text, "db1"), row(text, "db2")
        assert "reachable" in db1 and "1.2.3" in db1 and "db1.example" in db1 and "+3.500 s" in db1
        assert 'class="late"' in db1  # skewed: over apsis check's warning
        assert '<time datetime="2026-12-01T11:00:00' in db1
        assert 'href="/runs?host=db1&amp;state=running" data-host-runs="db1">1</a>' in db1
        assert "unreachable" in db2 and "Host key verification failed" in db2
        assert 'data-host-runs="local">0</a>' in row(text, "local")

    on_site(tmp_path, JOBS, test, remotes=("db1", "db2"))
