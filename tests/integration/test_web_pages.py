"""The jobs, job, ad hoc, control and hosts pages served by a real apsisd on its socket: a run started from the
job page's form runs as a unit, the jobs page shows how it ended, the reload's dry run and apply work on the real
jobs folder. (What each page holds in detail: tests/unit/web/.)"""
from __future__ import annotations

import asyncio
import re

from tests.integration.api import session
from tests.integration.daemon import Daemon, finished, with_daemon


async def page(path: str) -> tuple[int, str]:
    async with session() as client, client.get(f"http://apsis{path}", allow_redirects=False) as response:
        return response.status, await response.text()


async def form(path: str, data: dict[str, str]) -> tuple[int, str]:
    async with session() as client, client.post(f"http://apsis{path}", data=data,
                                                allow_redirects=False) as response:
        return response.status, response.headers.get("Location", "")


@with_daemon()
async def test_the_pages_of_a_real_apsisd(daemon: Daemon) -> None:
    daemon.job("etl/load", 'params: [date]\nprogram: "test {{ date }} = 2026-12-07"\n'
                           'metadata: {description: "Loads <b>it</b>", labels: [etl]}\n')
    await daemon.start(*daemon.config("[reload]\nwatch = false\n"))
    status, text = await page("/jobs")
    assert status == 200 and 'data-job-id="etl/load"' in text and 'data-folder="etl"' in text
    status, where = await form("/jobs/etl/load/run", {"arg:date": "2026-12-07"})
    assert status == 303 and where.startswith("/runs/r")
    (run,) = await daemon.wait_runs(finished(1), "etl/load")
    assert run.state == "success" and run.args == {"date": "2026-12-07"}
    for _ in range(100):  # the last run is the memo's, fed by the committed change: at once, or nearly
        _, text = await page("/jobs?label=etl")
        if f'data-last-run="{run.id}"' in text:
            break
        await asyncio.sleep(0.1)
    assert f'data-last-run="{run.id}"><a href="/runs/{run.id}"' in text and "state-success" in text
    status, text = await page("/jobs/etl/load")
    assert status == 200 and "Loads &lt;b&gt;it&lt;/b&gt;" in text and f'data-run-id="{run.id}"' in text
    daemon.job("other", 'program: "true"\n')
    status, text = await page("/control/reload")
    assert status == 200 and re.search(r'<ul id="added"[^>]*><li>other</li>', text) and 'id="apply"' in text
    status, text = await page("/control")
    assert status == 200 and "<dt>Jobs loaded</dt><dd><a href=\"/jobs\">1</a>" in text
    async with session() as client, client.post("http://apsis/control/reload") as response:
        assert response.status == 200 and "Reloaded" in await response.text()
    status, text = await page("/control")
    assert "<dt>Jobs loaded</dt><dd><a href=\"/jobs\">2</a>" in text
    status, text = await page("/hosts")
    assert status == 200 and 'data-host="local"' in text
    status, text = await page("/adhoc")
    assert status == 200 and 'action="/adhoc"' in text  # the test runs as root: an admin
    status, where = await form("/adhoc", {"kind": "shell", "program": "true", "name": "by-hand", "host": "",
                                          "at": ""})
    assert status == 303
    (adhoc,) = await daemon.wait_runs(finished(1), "by-hand")
    assert adhoc.state == "success" and where == f"/runs/{adhoc.id}"
