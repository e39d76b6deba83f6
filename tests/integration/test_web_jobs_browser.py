"""The jobs, job, ad hoc, control and hosts pages in a real browser (Debian's headless Chromium) against a real
apsisd: the jobs tree filters as one types and its last runs change live; the job page's form starts a run with
its args through the API and lands on it; the ad hoc form makes a run; the reload's dry run then Apply. Each page,
light and dark, without a script error: screenshots for docs/web.md."""
from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.integration.api import get, post
from tests.integration.browser import SCHEMES, chromium, goto, screenshot, watched
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.served import serve

WAIT = 30_000  # ms: what an expect() waits for the page to show a change
JOBS = {
    "etl/load": 'program: "echo loading {{ date }}"\nparams: [date]\n'
                'metadata:\n  description: "Loads the **day\'s** rows <script>alert(1)</script>.\\n\\n'
                '- from the warehouse\\n- into `facts`"\n  labels: [nightly, etl]\n',
    "etl/check": 'program: "exit 3"\nmetadata: {labels: [etl], description: "Checks the load"}\n',
    "reports/daily": 'program: "echo report"\nschedule: {type: daily, daytime: "06:00", tz: Europe/Paris}\n',
}


async def live(page: Page) -> None:
    await expect(page.locator("html")).to_have_attribute("data-live", "on", timeout=WAIT)


@with_daemon(timeout=300)
async def test_the_jobs_pages_in_a_browser(daemon: Daemon) -> None:
    for job_id, text in JOBS.items():
        daemon.job(job_id, text)
    served = await serve(daemon, config="[reload]\nwatch = false\n")
    problems: list[str] = []
    async with chromium(daemon.root / "browser") as browser:
        async with browser.page(token=served.operate) as page:
            watched(page, problems)
            await goto(page, served.url + "/jobs")
            await live(page)
            jobs = page.locator("li.job:not(.hidden)")
            await expect(jobs).to_have_count(3)
            await page.locator("#q").press_sequentially("chec")  # as typed: filtered at once, no request
            await expect(jobs).to_have_count(1)
            await expect(jobs).to_have_attribute("data-job-id", "etl/check")
            assert "q=chec" in page.url
            await page.locator("#q").fill("")
            await expect(jobs).to_have_count(3)
            status, answer = await post("/api/v1/runs", {"job_id": "etl/check"})
            assert status == 201, answer
            run_id = answer["runs"][0]["run_id"]
            last = page.locator('li[data-job-id="etl/check"] .last')
            await expect(last).to_have_attribute("data-last-run", run_id, timeout=WAIT)
            await expect(last.locator(".state")).to_have_text("failure", timeout=WAIT)

            await goto(page, served.url + "/jobs/etl/load")
            await live(page)
            await expect(page.locator(".description strong")).to_have_text("day's")
            assert await page.locator(".description script").count() == 0
            await page.locator('input[data-param="date"]').fill("2026-12-07")
            await page.locator("#start button").click()
            await page.wait_for_url(re.compile(r"/runs/r[0-9]+$"), timeout=WAIT)
            started = page.url.rsplit("/", 1)[1]
            status, run = await get(f"/api/v1/runs/{started}")
            assert status == 200 and run["args"] == {"date": "2026-12-07"} and run["origin"] == "manual"

        async with browser.page(token=served.admin) as page:
            watched(page, problems)
            await goto(page, served.url + "/adhoc")
            await page.locator('textarea[name="program"]').fill("echo by hand")
            await page.locator('input[name="name"]').fill("by-hand")
            await page.locator("#adhoc button").click()
            await page.wait_for_url(re.compile(r"/runs/r[0-9]+$"), timeout=WAIT)
            await expect(page.locator("h1")).to_contain_text("by-hand")

            daemon.job("reports/weekly", 'program: "echo weekly"\n')
            await goto(page, served.url + "/control/reload")
            await expect(page.locator("#added li")).to_have_text(["reports/weekly"])
            await page.locator("#apply").click()
            await expect(page.locator("h1")).to_have_text("Reloaded", timeout=WAIT)
            status, health = await get("/api/v1/health")
            assert health["jobs"] == 4

        for scheme in SCHEMES:
            async with browser.page(scheme=scheme, token=served.admin) as page:
                watched(page, problems)
                for name, path in (("jobs", "/jobs"), ("job", "/jobs/etl/load"), ("adhoc", "/adhoc"),
                                   ("control", "/control"), ("reload", "/control/reload"), ("hosts", "/hosts")):
                    await goto(page, served.url + path)
                    await live(page)
                    await screenshot(page, name)
    assert problems == []
