"""The runs and run pages in a real browser (Debian's headless Chromium) against a real apsisd: what an operator
sees and does, asserted on behaviour: a filter changes the URL and the rows; a run started from the CLI appears and
changes state without a reload; its output follows, in colour; the stop button stops the unit (systemd agrees);
the page reconnects after apsisd restarts and shows what changed meanwhile; a reader sees no button, and a POST
forged from a reader's page is refused."""
from __future__ import annotations

import asyncio
import subprocess
from typing import Any

from playwright.async_api import Page, expect

from tests.integration.api import post
from tests.integration.apsis_cli import apsis
from tests.integration.browser import chromium, goto, screenshot
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.served import serve

WAIT = 30_000  # ms: what an expect() waits for the page to show a change


def runs_of(page: Page) -> Any:
    return page.locator("#runs tbody tr[data-run-id]")


async def marked(page: Page) -> None:
    """A mark on the page's window: still there later means the page was never loaded again."""
    await page.evaluate("window.apsisMark = 'unchanged'")


async def still_marked(page: Page) -> None:
    assert await page.evaluate("window.apsisMark") == "unchanged", "the page was loaded again"


async def live(page: Page) -> None:
    await expect(page.locator("html")).to_have_attribute("data-live", "on", timeout=WAIT)


def unit_state(run_id: str) -> str:
    """What systemd says of the run's unit (inactive also for a unit unloaded once it ended)."""
    return subprocess.run(["systemctl", "show", "--value", "-p", "ActiveState", f"apsis-{run_id}.service"],
                          capture_output=True, text=True, check=False).stdout.strip()


async def new_run(job_id: str, **args: str) -> str:
    status, answer = await post("/api/v1/runs", {"job_id": job_id, "args": args})
    assert status == 201, answer
    return str(answer["runs"][0]["run_id"])


async def running_row(page: Page, url: str, job_id: str) -> tuple[str, Any]:
    """On the runs page, live and marked: a run of `job_id` made through the API, once its row says running."""
    await goto(page, f"{url}/runs")
    await live(page)
    await marked(page)
    run_id = await new_run(job_id)
    row = page.locator(f'tr[data-run-id="{run_id}"]')
    await expect(row).to_have_attribute("data-state", "running", timeout=WAIT)
    return run_id, row


@with_daemon(timeout=240)
async def test_a_filter_changes_the_url_and_the_rows(daemon: Daemon) -> None:
    daemon.job("etl/load", 'program: "true"\nparams: [date]\n')
    daemon.job("report", 'program: "true"\n')
    served = await serve(daemon)
    loads = [await new_run("etl/load", date=f"2026-12-0{day}") for day in (1, 2)]
    report = await new_run("report")
    async with chromium(daemon.root / "browser") as browser, browser.page(token=served.read) as page:
        await goto(page, f"{served.url}/runs")
        await expect(runs_of(page)).to_have_count(3, timeout=WAIT)
        await page.get_by_label("Job", exact=True).fill("etl/load")
        await page.get_by_role("button", name="Show").click()
        await page.wait_for_url("**/runs?job=etl%2Fload**")
        await expect(runs_of(page)).to_have_count(2)
        assert sorted(await runs_of(page).evaluate_all("rows => rows.map(row => row.dataset.runId)")) == sorted(loads)
        # One job shown: its args are columns.
        await expect(page.locator("#runs thead th", has_text="date")).to_have_count(1)
        await page.get_by_label("Args").fill("date=2026-12-02")
        await page.get_by_role("button", name="Show").click()
        await page.wait_for_url("**arg=date%3D2026-12-02**")
        await expect(runs_of(page)).to_have_count(1)
        await expect(page.locator(f'tr[data-run-id="{loads[1]}"]')).to_have_count(1)
        # A state's box: the report's run has succeeded, the URL says so, and the page shows only it.
        await goto(page, f"{served.url}/runs")
        await page.get_by_label("success").check()
        await page.get_by_label("Job", exact=True).fill("report")
        await page.get_by_role("button", name="Show").click()
        await page.wait_for_url("**state=success**")
        await expect(runs_of(page)).to_have_count(1)
        await expect(page.locator(f'tr[data-run-id="{report}"]')).to_have_count(1)


@with_daemon(timeout=240)
async def test_a_run_started_from_the_cli_appears_and_changes_state_live(daemon: Daemon) -> None:
    daemon.job("slow", 'program: "sleep 3"\n')
    served = await serve(daemon)
    async with chromium(daemon.root / "browser") as browser, browser.page(token=served.read) as page:
        await goto(page, f"{served.url}/runs")
        await live(page)
        await marked(page)
        made = await asyncio.to_thread(apsis, "run", "--json", "slow")  # the real command, as an operator types it
        row = page.locator(f'tr[data-run-id="{made.json()["runs"][0]["run_id"]}"]')
        await expect(row).to_have_attribute("data-state", "running", timeout=WAIT)
        await expect(row.locator(".elapsed span")).not_to_be_empty()
        await expect(row).to_have_attribute("data-state", "success", timeout=WAIT)
        await still_marked(page)


@with_daemon(timeout=240)
async def test_the_output_follows_live_in_colour(daemon: Daemon) -> None:
    daemon.job("talk", 'program: "for i in 1 2 3 4 5; do printf \'\\\\033[31mline %s\\\\033[0m\\\\n\' $i; '
                       'sleep 1; done"\n')
    served = await serve(daemon)
    async with chromium(daemon.root / "browser") as browser, browser.page(token=served.read) as page:
        run_id = await new_run("talk")
        await goto(page, f"{served.url}/runs/{run_id}")
        output = page.locator("#output")
        await expect(output).to_contain_text("line 1", timeout=WAIT)
        await marked(page)
        await expect(output).to_contain_text("line 5", timeout=WAIT)
        await expect(output.locator("span.fg-1", has_text="line 3")).to_have_count(1)
        assert "\x1b" not in (await output.text_content() or "")
        await expect(page.locator("#output")).to_have_attribute("data-complete", "yes", timeout=WAIT)
        await expect(page.locator("#run")).to_have_attribute("data-state", "success", timeout=WAIT)
        await still_marked(page)


@with_daemon(timeout=240)
async def test_the_stop_button_stops_the_unit(daemon: Daemon) -> None:
    daemon.job("forever", 'program: "sleep 600"\n')
    served = await serve(daemon)
    async with chromium(daemon.root / "browser") as browser, browser.page(token=served.operate) as page:
        run_id = await new_run("forever")
        await goto(page, f"{served.url}/runs/{run_id}")
        await expect(page.locator("#run")).to_have_attribute("data-state", "running", timeout=WAIT)
        await expect(page.get_by_role("link", name="Stop")).to_be_visible(timeout=WAIT)
        assert unit_state(run_id) == "active"
        await page.get_by_role("link", name="Stop").click()
        dialog = page.locator("dialog[open]")
        await expect(dialog).to_contain_text("SIGTERM")
        await screenshot(page, "run-confirm-stop")
        await dialog.get_by_role("button", name="Stop").click()
        await expect(page.locator("#run")).to_have_attribute("data-state", "failure", timeout=WAIT)
        for _ in range(100):
            if unit_state(run_id) != "active":
                break
            await asyncio.sleep(0.1)
        assert unit_state(run_id) in ("inactive", "failed", "")
        await expect(page.get_by_role("link", name="Stop")).to_have_count(0)
        await expect(page.get_by_role("link", name="Run again")).to_be_visible()


@with_daemon(timeout=240)
async def test_a_reader_sees_no_button_and_a_forged_post_is_refused(daemon: Daemon) -> None:
    daemon.job("forever", 'program: "sleep 600"\n')
    served = await serve(daemon)
    run_id = await new_run("forever")
    async with chromium(daemon.root / "browser") as browser, browser.page(token=served.read) as page:
        await goto(page, f"{served.url}/runs/{run_id}")
        await expect(page.locator("#run")).to_have_attribute("data-state", "running", timeout=WAIT)
        await expect(page.locator("#actions")).to_have_count(0)
        await expect(page.locator("a[data-api]")).to_have_count(0)
        refused = await page.evaluate("""async (runId) => {
            const api = await fetch(`/api/v1/runs/${runId}/stop`, {method: "POST"});
            const form = await fetch(`/runs/${runId}/stop`, {method: "POST",
                body: new URLSearchParams({}), redirect: "manual"});
            return [api.status, form.status];
        }""", run_id)
        assert refused == [403, 403]
        assert unit_state(run_id) == "active"
    await post(f"/api/v1/runs/{run_id}/stop")


@with_daemon(timeout=240)
async def test_the_page_reconnects_after_apsisd_restarts_and_shows_what_changed(daemon: Daemon) -> None:
    daemon.job("short", 'program: "sleep 4"\n')
    served = await serve(daemon)
    async with chromium(daemon.root / "browser") as browser, browser.page(token=served.read) as page:
        _, row = await running_row(page, served.url, "short")
        await daemon.stop()  # the run goes on in its unit, and ends while apsisd is down
        await expect(page.locator("html")).to_have_attribute("data-live", "off", timeout=WAIT)
        await expect(page.locator(".toast", has_text="Live updates lost")).to_have_count(1)
        await asyncio.sleep(5)
        await daemon.start("--config", str(daemon.root / "apsisd.toml"))
        await live(page)
        await expect(page.locator(".toast", has_text="Live again")).to_have_count(1, timeout=WAIT)
        await expect(row).to_have_attribute("data-state", "success", timeout=WAIT)
        later = await new_run("short")
        await expect(page.locator(f'tr[data-run-id="{later}"]')).to_have_count(1, timeout=WAIT)
        await still_marked(page)



@with_daemon(timeout=240)
async def test_the_output_stops_following_when_scrolled_up_and_splits_its_streams(daemon: Daemon) -> None:
    daemon.job("chatty", 'program: "seq 1 400; sleep 2; seq 401 800; sleep 600"\n')
    daemon.job("split", 'program: {type: shell, command: "echo to out; echo to err >&2", output: {split: true}}\n')
    served = await serve(daemon)
    async with chromium(daemon.root / "browser") as browser, browser.page(token=served.operate) as page:
        run_id = await new_run("chatty")
        await goto(page, f"{served.url}/runs/{run_id}")
        output = page.locator("#output")
        follow = page.get_by_label("follow")
        await expect(output).to_contain_text("400", timeout=WAIT)
        await expect(follow).to_be_checked()
        assert await output.evaluate("box => box.scrollHeight - box.scrollTop - box.clientHeight < 30")
        await output.evaluate("box => box.scrollTo(0, 0)")
        await expect(follow).not_to_be_checked()
        await expect(output).to_contain_text("800", timeout=WAIT)
        assert await output.evaluate("box => box.scrollTop") == 0, "the output followed after the reader scrolled up"
        await follow.check()
        assert await output.evaluate("box => box.scrollHeight - box.scrollTop - box.clientHeight < 30")
        await post(f"/api/v1/runs/{run_id}/stop")

        split = await new_run("split")
        await goto(page, f"{served.url}/runs/{split}")
        await expect(page.locator("#output")).to_have_attribute("data-complete", "yes", timeout=WAIT)
        await expect(page.locator('#output [data-stream="stdout"]')).to_have_text("to out\n")
        await expect(page.locator('#output [data-stream="stderr"]')).to_be_hidden()
        await page.get_by_role("tab", name="stderr").click()
        await expect(page.locator('#output [data-stream="stderr"]')).to_have_text("to err\n")
        await expect(page.locator('#output [data-stream="stdout"]')).to_be_hidden()


HIDE = """hidden => {
    Object.defineProperty(document, "visibilityState", {configurable: true, get: () => hidden ? "hidden" : "visible"});
    document.dispatchEvent(new Event("visibilitychange"));
}"""


@with_daemon(timeout=240)
async def test_a_hidden_tab_lets_its_streams_go_and_takes_them_up_where_they_were(daemon: Daemon) -> None:
    daemon.job("ticker", 'program: "for i in $(seq 1 60); do echo tick $i; sleep 0.5; done"\n')
    served = await serve(daemon)
    async with chromium(daemon.root / "browser") as browser, browser.page(token=served.read) as page:
        run_id = await new_run("ticker")
        await page.clock.install()
        await goto(page, f"{served.url}/runs/{run_id}")
        await live(page)
        output = page.locator("#output")
        await expect(output).to_contain_text("tick 2", timeout=WAIT)
        await page.evaluate(HIDE, True)
        await page.clock.fast_forward(31_000)
        await expect(page.locator("html")).to_have_attribute("data-live", "paused")
        await expect(page.locator("#output-state")).to_have_text("paused (tab hidden)")
        held = (await output.text_content() or "").count("tick")
        await asyncio.sleep(2)
        assert (await output.text_content() or "").count("tick") == held, "a hidden tab went on reading"
        await page.evaluate(HIDE, False)
        await live(page)
        await expect(output).to_contain_text(f"tick {held + 3}", timeout=WAIT)
        lines = (await output.text_content() or "").split("\n")
        numbers = [int(line.split()[1]) for line in lines if line.startswith("tick")]
        assert numbers == list(range(1, len(numbers) + 1)), "output lost or doubled across the pause"
    await post(f"/api/v1/runs/{run_id}/stop")
