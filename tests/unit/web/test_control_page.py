"""/control: apsisd's health and version, the jobs folder, the sanity report; the reload's dry run shows what
would change and changes nothing, Apply reloads; a folder with errors shows them and changes nothing."""
from __future__ import annotations

import json
import re
from pathlib import Path

from apsisd.api.routes.health import VERSION
from tests.unit.web.site import Site, Tcp, on_site, on_tcp

JOBS = {"keep": "program: echo keep\n", "edit": "program: echo before\n", "drop": "program: echo drop\n"}


def listed(text: str, name: str) -> list[str]:
    found = re.search(rf'<ul id="{name}"[^>]*>(.*?)</ul>', text, re.S)
    return re.findall(r"<li>(?:<a [^>]*>)?([^<]+)", found[1]) if found else []


def test_it_shows_the_health_version_jobs_and_the_sanity_report(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        status, text = await site.get("/control")
        assert status == 200, text
        assert ">ok</span>" in text and VERSION in text
        assert '<dt>Jobs loaded</dt><dd><a href="/jobs">3</a></dd>' in text
        assert 'id="check-ok"' in text and "No problem: every file was read" in text

    on_site(tmp_path, JOBS, test)


def test_the_dry_run_shows_the_diff_and_changes_nothing_then_apply_reloads(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        site.rig.write_job("edit", "program: echo after\n")
        site.rig.write_job("new", "program: echo new\n")
        (site.rig.folder / "drop.yaml").unlink()
        status, text = await site.get("/control/reload")
        assert status == 200, text
        assert (listed(text, "added"), listed(text, "changed"), listed(text, "removed")) == (
            ["new"], ["edit"], ["drop"])
        assert 'id="apply"' in text and "what would change" in text
        assert sorted(site.rig.scheduler.jobs.jobs) == ["drop", "edit", "keep"]  # nothing changed yet
        status, _, text = await site.submit("/control/reload")
        assert status == 200, text
        assert "Reloaded" in text and listed(text, "added") == ["new"] and 'id="apply"' not in text
        assert sorted(site.rig.scheduler.jobs.jobs) == ["edit", "keep", "new"]
        _, text = await site.get("/control/reload")
        assert 'id="same"' in text and 'id="apply"' not in text  # nothing more to do

    on_site(tmp_path, JOBS, test, reloads=True)


def test_a_folder_with_errors_shows_them_and_offers_no_apply(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        site.rig.write_job("edit", "program: [unclosed\n")
        status, text = await site.get("/control/reload")
        assert status == 422
        assert "edit.yaml" in "".join(listed(text, "errors")) and 'id="apply"' not in text
        status, _, text = await site.submit("/control/reload")
        assert status == 422 and "nothing was changed" in text
        assert sorted(site.rig.scheduler.jobs.jobs) == ["drop", "edit", "keep"]

    on_site(tmp_path, JOBS, test, reloads=True)


def test_a_reader_sees_the_diff_but_may_not_apply_it(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        tcp.rig.write_job("new", "program: echo new\n")
        viewer = await tcp.signed_in("viewer")
        status, text = await viewer.get("/control/reload")
        assert status == 200 and listed(text, "added") == ["new"]
        assert 'id="apply"' not in text and "needs the right operate" in text
        token = re.search(r'<meta name="apsis-csrf" content="([^"]+)"', text)
        assert token is not None
        status, _, _ = await viewer.submit("/control/reload", {"csrf": token[1]})
        assert status == 403
        assert "new" not in tcp.rig.scheduler.jobs.jobs
        ops = await tcp.signed_in("ops")
        status, text = await ops.get("/control/reload")
        assert 'id="apply"' in text
        status, _, _ = await ops.submit("/control/reload")  # no form token: a forged request
        assert status == 403 and "new" not in tcp.rig.scheduler.jobs.jobs
        token = re.search(r'<input type="hidden" name="csrf" value="([^"]+)"', text)
        assert token is not None
        status, _, text = await ops.submit("/control/reload", {"csrf": token[1]})
        assert status == 200 and "Reloaded" in text and "new" in tcp.rig.scheduler.jobs.jobs

    on_tcp(tmp_path, JOBS, test, reloads=True)


def test_the_health_shown_is_the_apis(tmp_path: Path) -> None:
    async def test(site: Site) -> None:
        status, body = await site.get("/api/v1/health")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok" and health["jobs"] == 3
        _, text = await site.get("/control")
        assert f'<time datetime="{health["started"]}">' in text
        assert f"<dt>Runs in flight</dt><dd>{health['runs_in_flight']} " in text

    on_site(tmp_path, JOBS, test)
