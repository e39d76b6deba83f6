"""The real-browser harness (browser.py, served.py): Debian's headless Chromium in the sandbox reaches a real
apsisd over loopback TCP with a bearer token, sees the colour scheme and the screen it was given, writes its
screenshots where asked, writes nothing outside its own folder, and leaves no process behind, even when the
test fails or the driver dies under it."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import struct
from pathlib import Path

import pytest
from playwright.async_api import expect

from apsisd.rights import Right
from tests.integration.browser import (
    DESKTOP,
    PHONE,
    SCHEMES,
    STEP,
    Chromium,
    chromium,
    goto,
    processes,
    screenshot,
    with_web,
)
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.served import serve

CHROMIUM_FILES = "/usr/lib/chromium/"  # what /usr/bin/chromium, a shell script, execs; its crashpad handler


def chromium_pids() -> list[int]:
    """Every process of Chromium's in this PID namespace (in the sandbox: only this test's)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "exe").startswith(CHROMIUM_FILES):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is no PNG"
    return struct.unpack(">II", head[16:24])


def listing(folder: str) -> set[str]:
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


@with_web()
async def test_chromium_reads_health_over_tcp_with_a_read_token_in_each_scheme_and_screen(
        daemon: Daemon, browser: Chromium) -> None:
    daemon.job("hello", 'program: "echo hello"\n')
    served = await serve(daemon)
    for scheme in SCHEMES:
        for viewport in (DESKTOP, PHONE):
            async with browser.page(scheme=scheme, viewport=viewport, token=served.read) as page:
                response = await goto(page, f"{served.url}/api/v1/health")
                async with asyncio.timeout(STEP):
                    await expect(page.locator("body")).to_contain_text('"status": "ok"')
                    health = await response.json()
                    shown = await page.evaluate("document.body.innerText")
                    fetched = await page.evaluate("fetch('/api/v1/health').then(r => r.json())")
                    seen = await page.evaluate("[matchMedia('(prefers-color-scheme: dark)').matches, "
                                               "screen.width, screen.height, navigator.maxTouchPoints > 0]")
                assert (response.status, health["status"], health["scheduling"], health["jobs"]) == (
                    200, "ok", True, 1), health
                assert json.loads(shown) == health  # what the page shows is what came
                assert fetched["status"] == "ok"  # the page's own scripts carry the token too
                assert seen == [scheme == "dark", viewport.width, viewport.height, viewport.mobile]
                shot = await screenshot(page, f"health-{viewport.name}")
                assert shot == browser.screenshots / f"health-{viewport.name}-{scheme}.png"
                # A page without <meta name=viewport> is laid out 980 px wide on a phone, as on a real one.
                assert png_size(shot)[0] == max(viewport.width, 980 if viewport.mobile else 0) * viewport.scale
    async with browser.page(token=served.read) as page:  # the live stream, as the page will follow it
        await goto(page, f"{served.url}/api/v1/health")
        async with asyncio.timeout(STEP):
            snapshot = await page.evaluate("""new Promise((resolve, reject) => {
                const stream = new EventSource('/api/v1/events');
                stream.addEventListener('snapshot', event => { stream.close(); resolve(JSON.parse(event.data)); });
                stream.onerror = () => { stream.close(); reject(new Error('the stream failed')); };
            })""")
        assert [job["job_id"] for job in snapshot["jobs"]] == ["hello"]
    async with browser.page(scheme="light") as anonymous:
        refused = await goto(anonymous, f"{served.url}/api/v1/health")
        async with asyncio.timeout(STEP):
            assert (refused.status, await refused.json()) == (
                401, {"error": "this address needs a bearer token (Authorization: Bearer TOKEN)"})
    async with browser.page(token=served.token(Right.ADMIN)) as page:
        assert (await goto(page, f"{served.url}/api/v1/jobs")).status == 200


@with_daemon()
async def test_the_browser_writes_nothing_outside_its_folder_and_leaves_no_process(daemon: Daemon) -> None:
    served = await serve(daemon)
    watched = ("/tmp", "/var/tmp", "/dev/shm", str(Path.home()))
    chromium_homes = [Path.home() / name for name in (".pki", ".config/chromium", ".cache/chromium",
                                                      ".cache/ms-playwright", ".local/share/applications")]
    before = {folder: listing(folder) for folder in watched}
    home_before = [path.exists() for path in chromium_homes]
    assert chromium_pids() == []
    folder = daemon.root / "browser"
    async with chromium(folder) as browser:
        running = processes(browser.marker)
        assert set(chromium_pids()) <= set(running) and chromium_pids(), "every Chromium carries the marker"
        async with browser.page(scheme="dark", token=served.read) as page:
            assert (await goto(page, f"{served.url}/api/v1/health")).status == 200
        profiles = list((folder / "tmp").glob("playwright_chromiumdev_profile-*"))
        assert len(profiles) == 1 and (profiles[0] / "Default").is_dir(), "the profile is in the browser's TMPDIR"
        singleton = list((folder / "private/tmp").glob("org.chromium.Chromium.*/SingletonSocket"))
        assert len(singleton) == 1, "Chromium's /tmp is the folder's, in its own mount namespace"
    assert browser.leftovers == [] and processes(browser.marker, browser.groups) == [] and chromium_pids() == []
    after = {folder: listing(folder) for folder in watched}
    for name in watched:  # /dev/shm and HOME are the host's: only what Chromium would name is looked for
        new = after[name] - before[name]
        assert not [entry for entry in new if name in ("/tmp", "/var/tmp") or "chrom" in entry.lower()
                    or entry in (".pki", ".config", ".cache", ".local")], (name, new)
    assert [path.exists() for path in chromium_homes] == home_before


async def crash(browser: Chromium, how: str) -> None:
    async with browser.page(scheme="light") as page:
        async with asyncio.timeout(STEP):
            await page.set_content("<p>a page in a renderer</p>")
        assert chromium_pids()
        if how == "driver":  # the driver dies under the test: the browser is orphaned
            (driver,) = [pid for pid in processes(browser.marker) if "node" in os.readlink(f"/proc/{pid}/exe")]
            os.kill(driver, signal.SIGKILL)
        raise RuntimeError("the test failed here")


@pytest.mark.parametrize("how", ["test", "driver"])
@with_daemon()
async def test_no_chromium_is_left_when_a_test_fails_or_the_driver_dies(daemon: Daemon, how: str) -> None:
    # The test's own error, or, when the driver died, whichever call met the dead driver first.
    with pytest.raises(Exception) as failed:
        async with chromium(daemon.root / "browser") as browser:
            await crash(browser, how)
    if how == "test":
        assert str(failed.value) == "the test failed here"
        assert browser.leftovers == []  # Playwright's close did it
    assert processes(browser.marker, browser.groups) == [] and chromium_pids() == []


@with_web()
async def test_chromium_reads_health_over_https_in_a_secure_context(daemon: Daemon, browser: Chromium) -> None:
    served = await serve(daemon, tls=True)
    assert served.url.startswith("https://") and served.ca is not None
    async with browser.page(token=served.read, ignore_https_errors=True) as page:
        response = await goto(page, f"{served.url}/api/v1/health")
        async with asyncio.timeout(STEP):
            health = await response.json()
            secure = await page.evaluate("[location.protocol, isSecureContext]")
        assert (response.status, health["status"], secure) == (200, "ok", ["https:", True])
