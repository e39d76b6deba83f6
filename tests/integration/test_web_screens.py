"""Every page of the web page, light and dark, on a desktop and a phone: screenshots for docs/web.md (written to
$APSIS_SCREENSHOTS when set), and no page has a script error or a failed request while it is shown."""
from __future__ import annotations

from playwright.async_api import ConsoleMessage, Error, Page, expect

from tests.integration.api import post
from tests.integration.browser import DESKTOP, PHONE, SCHEMES, chromium, goto, screenshot
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


def watched(page: Page, problems: list[str]) -> None:
    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"{page.url}: console: {message.text}")

    def failed(error: Error) -> None:
        problems.append(f"{page.url}: {error}")

    page.on("console", console)
    page.on("pageerror", failed)


@with_daemon(timeout=300)
async def test_every_page_in_each_scheme_without_a_script_error(daemon: Daemon) -> None:
    for job_id, text in JOBS.items():
        daemon.job(job_id, text)
    served = await serve(daemon)
    made = []
    for job_id, args in (("etl/load", {"date": "2026-12-06"}), ("etl/load", {"date": "2026-12-07"}),
                         ("etl/check", {}), ("reports/daily", {})):
        status, answer = await post("/api/v1/runs", {"job_id": job_id, "args": args})
        assert status == 201, answer
        made.append(answer["runs"][0]["run_id"])
    problems: list[str] = []
    pages = {"runs": "/runs", "runs-of-a-job": "/runs?job=etl/load",
             "run": f"/runs/{made[0]}", "run-running": f"/runs/{made[3]}"}
    async with chromium(daemon.root / "browser") as browser:
        for scheme in SCHEMES:
            for viewport in (DESKTOP, PHONE):
                async with browser.page(scheme=scheme, viewport=viewport, token=served.admin) as page:
                    watched(page, problems)
                    for name, path in pages.items():
                        if viewport is PHONE and name not in ("runs", "run"):
                            continue
                        await goto(page, served.url + path)
                        await expect(page.locator("html")).to_have_attribute("data-live", "on")
                        if name.startswith("run") and not name.startswith("runs"):
                            await expect(page.locator("#output")).not_to_be_empty()
                        await screenshot(page, name if viewport is DESKTOP else f"{name}-phone")
    await post(f"/api/v1/runs/{made[3]}/stop")
    assert problems == []
