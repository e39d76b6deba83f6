"""Signing in, in a real browser (Chromium, tests/integration/browser.py) against a real apsisd over TCP: the form,
the cookie as the browser keeps it, a link followed from another site that lands signed in, sign-out, expiry, and
a read-only session whose forged changes are refused."""
from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Page, expect

from apsisd.runs.state import State
from tests.integration.browser import SCHEMES, STEP, Chromium, goto, screenshot, with_web
from tests.integration.daemon import Daemon
from tests.integration.served import serve
from tests.integration.test_api_access import scheduled


async def sign_in(page: Page, url: str, token: str) -> None:
    await page.fill('input[name="token"]', token)
    await page.click('button:has-text("Sign in")')
    await expect(page.locator(".who")).to_contain_text("(signed in)")


def path_of(page: Page) -> str:
    parts = urlsplit(page.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@with_web()
async def test_sign_in_a_link_from_elsewhere_and_sign_out(daemon: Daemon, browser: Chromium) -> None:
    daemon.job("later", 'program: "true"\n')
    served = await serve(daemon)
    for scheme in SCHEMES:
        async with browser.page(scheme=scheme) as page:
            await goto(page, f"{served.url}/login")
            await screenshot(page, "login")
            await page.fill('input[name="token"]', "not-a-token")
            await page.click('button:has-text("Sign in")')
            await expect(page.locator(".problem")).to_contain_text("That token is not valid")
            await screenshot(page, "login-refused")

    async with browser.page() as page:
        await goto(page, f"{served.url}/runs?state=running")
        assert urlsplit(page.url).path == "/login"
        assert parse_qs(urlsplit(page.url).query)["next"] == ["/runs?state=running"]
        await sign_in(page, served.url, served.operate)
        assert path_of(page) == "/runs?state=running"
        await expect(page.locator(".who")).to_contain_text("token operator (signed in)")
        (cookie,) = [each for each in await page.context.cookies() if each["name"] == "apsis_session"]
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"], cookie["path"]) == (
            True, "Strict", False, "/")
        assert 12 * 3600 - 60 < cookie["expires"] - await page.evaluate("Date.now() / 1000") <= 12 * 3600
        assert await page.evaluate("document.cookie") == ""  # no script reads it

        # A link in another site's page (here: a blank page, of no site) comes without the Strict cookie; the
        # sign-in page it lands on reloads itself once, with it, and goes on.
        seen: list[tuple[str, int]] = []
        page.on("response", lambda response: seen.append((urlsplit(response.url).path, response.status)))
        async with asyncio.timeout(STEP):
            await page.goto("about:blank")
        await page.set_content(f'<a id="alert" href="{served.url}/runs?state=failure">run failed</a>')
        await page.click("#alert")
        await expect(page.locator(".who")).to_contain_text("token operator (signed in)")
        assert path_of(page) == "/runs?state=failure"
        assert ("/login", 200) in seen, f"the link came with the cookie after all: {seen}"

        old = cookie["value"]
        await page.click('button:has-text("Sign out")')
        await expect(page.locator('input[name="token"]')).to_be_visible()
        assert path_of(page) == "/login"
        assert not [each for each in await page.context.cookies() if each["name"] == "apsis_session"]
        async with asyncio.timeout(STEP):
            status = await page.evaluate(
                "url => fetch(url, {credentials: 'omit'}).then(r => r.status)", f"{served.url}/api/v1/runs")
        assert status == 401
        # The old cookie, kept elsewhere, is worth nothing: apsisd ended the session.
        await page.context.add_cookies([{**cookie, "value": old}])
        await goto(page, f"{served.url}/runs")
        assert path_of(page).startswith("/login?next=")


@with_web()
async def test_a_session_expires_and_a_read_only_session_cannot_act(daemon: Daemon, browser: Chromium) -> None:
    daemon.job("later", 'program: "true"\n')
    served = await serve(daemon, config='[web]\nsession_lifetime = "4s"\n')
    run_id = await scheduled(daemon)
    async with browser.page() as page:
        await goto(page, f"{served.url}/runs/{run_id}")
        await sign_in(page, served.url, served.read)
        assert path_of(page) == f"/runs/{run_id}"
        await expect(page.locator("[data-api]")).to_have_count(0)  # no button to press
        await screenshot(page, "run-read-only")
        forged = await page.evaluate("""async ([run, csrf]) => {
            const form = new URLSearchParams({csrf});
            const post = await fetch(`/runs/${run}/skip`, {method: "POST", body: form, redirect: "manual"});
            const api = await fetch(`/api/v1/runs/${run}/skip`, {method: "POST", headers: {"X-Apsis-CSRF": csrf}});
            return [post.status, api.status];
        }""", [run_id, await page.locator('meta[name="apsis-csrf"]').get_attribute("content")])
        assert forged == [403, 403]
        assert (await daemon.runs("later"))[0].state is State.SCHEDULED

        async with asyncio.timeout(STEP):  # the session's 4 s pass: the page sends the browser to sign in again
            while True:
                await goto(page, f"{served.url}/runs/{run_id}")
                if path_of(page).startswith("/login?next="):
                    break
                await asyncio.sleep(0.5)
        await expect(page.locator('input[name="token"]')).to_be_visible()
