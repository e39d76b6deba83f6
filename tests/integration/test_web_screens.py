"""Every page of the web page, light and dark, on a desktop and a phone: screenshots for docs/web.md (written to
$APSIS_SCREENSHOTS when set), and no page has a script error or a failed request while it is shown."""
from __future__ import annotations

from playwright.async_api import expect

from tests.integration.api import post
from tests.integration.browser import DESKTOP, PHONE, SCHEMES, chromium, goto, screenshot, watched
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.served import serve

JOBS = {
    "etl/load": 'program: "printf \'\\\\033[32mloaded\\\\033[0m %s rows\\\\n\' 1200"\nparams: [date]\n'
                'metadata:\n  description: "Loads the **day\'s** rows.\\n\\n- from the warehouse\\n- into `facts`"\n'
                '  labels: [nightly, etl]\n',
    "etl/check": 'program: "exit 3"\nmetadata: {labels: [etl]}\n',
    "reports/daily": 'program: "echo started; sleep 600"\n'
                     'schedule: {type: daily, daytime: "06:00", tz: Europe/Paris}\n',
}


@with_daemon(timeout=300)
async def test_every_page_in_each_scheme_without_a_script_error(daemon: Daemon) -> None:
    for job_id, text in JOBS.items():
        daemon.job(job_id, text)
    served = await serve(daemon, config="[reload]\nwatch = false\n")
    made = []
    for job_id, args in (("etl/load", {"date": "2026-12-06"}), ("etl/load", {"date": "2026-12-07"}),
                         ("etl/check", {}), ("reports/daily", {})):
        status, answer = await post("/api/v1/runs", {"job_id": job_id, "args": args})
        assert status == 201, answer
        made.append(answer["runs"][0]["run_id"])
    # A change in the folder not yet loaded: the reload page's dry run has something to show.
    daemon.job("etl/export", 'program: "true"\nschedule: {type: interval, interval: 3600}\n')
    daemon.job("etl/check", 'program: "exit 4"\nmetadata: {labels: [etl, checks]}\n')
    problems: list[str] = []
    pages = {"runs": "/runs", "runs-of-a-job": "/runs?job=etl/load", "runs-by-time": "/runs?order=time",
             "run": f"/runs/{made[0]}", "run-running": f"/runs/{made[3]}", "jobs": "/jobs",
             "job": "/jobs/etl/load", "adhoc": "/adhoc", "control": "/control", "reload": "/control/reload",
             "hosts": "/hosts"}
    async with chromium(daemon.root / "browser") as browser:
        for scheme in SCHEMES:
            for viewport in (DESKTOP, PHONE):
                async with browser.page(scheme=scheme, viewport=viewport, token=served.admin) as page:
                    watched(page, problems)
                    for name, path in pages.items():
                        if viewport is PHONE and name not in ("runs", "run", "jobs"):
                            continue
                        await goto(page, served.url + path)
                        await expect(page.locator("html")).to_have_attribute("data-live", "on")
                        if name in ("run", "run-running"):
                            await expect(page.locator("#output")).not_to_be_empty()
                        await screenshot(page, name if viewport is DESKTOP else f"{name}-phone")
            async with browser.page(scheme=scheme) as page:
                watched(page, problems)
                await goto(page, f"{served.url}/runs")  # anonymous: the sign-in page
                await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
                await screenshot(page, "login")
    await post(f"/api/v1/runs/{made[3]}/stop")
    assert problems == []
