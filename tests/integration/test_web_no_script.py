"""The page with JavaScript off, in a real browser against a real apsisd over TCP: an operator signs in with the
form, reads the runs and a run from the server's HTML alone, and stops a run through the confirm page and its
form (the session's form token in it); systemd agrees the unit is gone."""
from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.integration.browser import Chromium, goto, screenshot, with_web
from tests.integration.daemon import Daemon
from tests.integration.served import serve
from tests.integration.test_web_runs import new_run, unit_state
from tests.integration.test_web_sign_in import sign_in


@with_web()
async def test_without_javascript_an_operator_signs_in_reads_and_stops_a_run(daemon: Daemon,
                                                                              browser: Chromium) -> None:
    daemon.job("forever", 'program: "echo up; sleep 600"\n')
    served = await serve(daemon)
    run_id = await new_run("forever")
    for _ in range(100):
        if unit_state(run_id) == "active":
            break
        await asyncio.sleep(0.1)
    async with browser.page(java_script_enabled=False) as page:
        await goto(page, f"{served.url}/runs")
        assert "/login" in page.url
        await sign_in(page, served.url, served.operate)
        row = page.locator(f'tr[data-run-id="{run_id}"]')
        await expect(row).to_have_attribute("data-state", "running")
        await expect(page.locator("html")).to_have_attribute("data-live", "off")  # no script: nothing follows
        await row.get_by_role("link", name=run_id).click()
        await expect(page.locator("#run")).to_have_attribute("data-state", "running")
        await expect(page.locator("dl.facts")).to_contain_text(f"apsis-{run_id}.service")
        await page.get_by_role("link", name="Stop").click()
        await expect(page).to_have_url(f"{served.url}/runs/{run_id}/stop")
        await screenshot(page, "run-confirm-page")
        await page.get_by_role("button", name="Stop").click()
        await expect(page).to_have_url(f"{served.url}/runs/{run_id}")
        for _ in range(100):
            if unit_state(run_id) != "active":
                break
            await asyncio.sleep(0.1)
        assert unit_state(run_id) in ("inactive", "failed", "")
        for _ in range(50):  # no script: the reader loads the page again to see the end
            await page.reload()
            if await page.locator("#run").get_attribute("data-state") == "failure":
                break
            await asyncio.sleep(0.2)
        await expect(page.locator("#run")).to_have_attribute("data-state", "failure")
        await expect(page.get_by_role("link", name="Run again")).to_be_visible()
