"""A real browser for the web page's tests: Debian's headless Chromium, driven by Playwright.

`async with chromium(folder) as browser:` launches /usr/bin/chromium (never a browser of
Playwright's: nothing here runs `playwright install`) through Playwright's own driver, with
everything either of them writes kept under `folder`:

- the driver's TMPDIR is `folder`/tmp: Playwright's launch() makes the browser's profile there
  (`playwright_chromiumdev_profile-*`, its --user-data-dir), with Node's os.tmpdir();
- Chromium runs in a mount namespace of its own (`unshare --mount`, a wrapper script in
  `folder`) where /tmp, /var/tmp and /dev/shm are folders of `folder`, bound over them, and its
  TMPDIR is that /tmp. Its singleton socket goes in TMPDIR, and a Unix socket's path must fit in
  107 bytes: a test's folder is often too deep for it, "/tmp" never is. (Playwright also passes
  --disable-dev-shm-usage: shared memory lives in TMPDIR.)
- HOME (Chromium keeps an NSS database in ~/.pki) and XDG_* (fontconfig's cache) are folders of
  `folder`, for both.

Nothing lands in the machine's /tmp, /var/tmp, /dev/shm or /root. Every process of the driver
and the browser carries a marker in its environment (APSIS_BROWSER); on the way out, after a
clean close, a failed test or a driver that died, each process still carrying it is killed by
its pid and waited for.

A context per colour scheme and viewport, closed on the way out:

    async with browser.page(scheme="dark", viewport=PHONE, token=served.read) as page:
        await goto(page, f"{served.url}/runs")
        await screenshot(page, "runs-phone")  # runs-phone-dark.png

Screenshots go to $APSIS_SCREENSHOTS when set, else to `folder`/screenshots. Every await here
is under a deadline (STEP seconds), and Playwright's own default timeout (and expect()'s, which
waits for a condition on the page) is the same, so a call a test makes on a page fails after
STEP seconds rather than pytest's whole timeout.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import re
import shlex
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from unittest import mock

from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    Response,
    async_playwright,
    expect,
)

from tests.integration.daemon import Daemon, with_daemon

CHROMIUM = "/usr/bin/chromium"
# What Chromium needs as root in a machine with a closed network (Playwright adds --headless, --no-sandbox,
# --disable-dev-shm-usage and --user-data-dir itself): no GPU, no QUIC, and no calls home at start.
FLAGS = ("--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync")
MARKER = "APSIS_BROWSER"
STEP = 30.0  # seconds any one call to the driver or the browser may take
SCREENSHOTS = "APSIS_SCREENSHOTS"
# Playwright's expect() retries an assertion until it holds (a row that turns `running` live): up to STEP, not its
# default 5 s, which a busy sandbox can miss.
expect.set_options(timeout=STEP * 1000)

Scheme = Literal["light", "dark"]
SCHEMES: tuple[Scheme, ...] = ("light", "dark")


@dataclass(frozen=True, slots=True, kw_only=True)
class Viewport:
    """A screen a page is shown on."""

    name: str
    width: int
    height: int
    mobile: bool = False
    scale: float = 1.0

    def options(self) -> dict[str, Any]:
        """Playwright's new_context() options for this screen."""
        return {"viewport": {"width": self.width, "height": self.height}, "is_mobile": self.mobile,
                "has_touch": self.mobile, "device_scale_factor": self.scale}


DESKTOP = Viewport(name="desktop", width=1280, height=800)
PHONE = Viewport(name="phone", width=390, height=844, mobile=True, scale=2.0)
VIEWPORTS = (DESKTOP, PHONE)


@dataclass(frozen=True, slots=True)
class _Shots:
    scheme: Scheme
    folder: Path


_shots: dict[BrowserContext, _Shots] = {}  # open contexts: where their screenshots go, and under which scheme


def bearer(token: str) -> dict[str, str]:
    """The header that gives a token on every request, the page's and its scripts'."""
    return {"Authorization": f"Bearer {token}"}


@dataclass(slots=True)
class Chromium:
    """One launched browser, and the folder everything of it lives in."""

    browser: Browser
    folder: Path
    marker: str
    launch_seconds: float = 0.0  # launch() alone: from a running driver to a browser ready for contexts
    groups: set[int] = field(default_factory=set)  # the process groups of its processes, seen at launch
    leftovers: list[int] = field(default_factory=list)  # what the sweep had to kill after the close (none, if well)
    screenshots: Path = field(init=False)

    def __post_init__(self) -> None:
        self.screenshots = Path(os.environ[SCREENSHOTS]) if os.environ.get(SCREENSHOTS) else self.folder / "screenshots"

    @contextlib.asynccontextmanager
    async def context(self, scheme: Scheme = "light", viewport: Viewport = DESKTOP, token: str | None = None,
                      **options: Any) -> AsyncIterator[BrowserContext]:
        """A new context (its own cookies and storage) seen in `scheme` on `viewport`; with `token`, every request
        carries it as a bearer token. `options` go to Playwright's new_context (base_url, locale, timezone_id...)."""
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
        headers = {**options.pop("extra_http_headers", {}), **(bearer(token) if token else {})}
        async with asyncio.timeout(STEP):
            context = await self.browser.new_context(color_scheme=scheme, extra_http_headers=headers or None,
                                                     **viewport.options(), **options)
        context.set_default_timeout(STEP * 1000)
        _shots[context] = _Shots(scheme, self.screenshots)
        try:
            yield context
        finally:
            _shots.pop(context, None)
            async with asyncio.timeout(STEP):
                await context.close()

    @contextlib.asynccontextmanager
    async def page(self, scheme: Scheme = "light", viewport: Viewport = DESKTOP, token: str | None = None,
                   **options: Any) -> AsyncIterator[Page]:
        """One page in a context of its own (see context())."""
        async with self.context(scheme, viewport, token, **options) as context:
            async with asyncio.timeout(STEP):
                page = await context.new_page()
            yield page


def watched(page: Page, problems: list[str]) -> None:
    """Every script error and console error of `page` from now on, appended to `problems` (a test asserts it stays
    empty)."""
    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"{page.url}: console: {message.text}")

    def failed(error: Error) -> None:
        problems.append(f"{page.url}: {error}")

    page.on("console", console)
    page.on("pageerror", failed)


async def goto(page: Page, url: str) -> Response:
    """Load `url` (until its load event); the response of its main request."""
    async with asyncio.timeout(STEP):
        response = await page.goto(url)
    assert response is not None, f"no response for {url}"
    return response


async def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    """The page as `<name>-<scheme>.png` in the screenshots folder (see the module); its path."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"a screenshot's name is a plain file name without its extension, not {name!r}")
    shots = _shots.get(page.context)
    if shots is None:
        raise ValueError("screenshot() takes a page of a context made by Chromium.context() or Chromium.page()")
    shots.folder.mkdir(parents=True, exist_ok=True)
    path = shots.folder / f"{name}-{shots.scheme}.png"
    async with asyncio.timeout(STEP):
        await page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path


def processes(marker: str, groups: Iterable[int] = ()) -> list[int]:
    """The pids of the driver's and the browser's live processes: those whose environment carries the marker, and
    the others of their process groups and of `groups`. Chromium rewrites its children's environment area with their
    titles, but they stay in the browser's process group (Playwright starts it as a group leader), and the group
    outlives its leader while they do: pass the groups seen while it ran. Zombies are left out: they are dead."""
    wanted = f"{MARKER}={marker}".encode()
    marked, found = set(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state, _, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]  # after the (comm)
        except (OSError, ValueError):  # gone meanwhile, or a kernel thread
            continue
        if state in ("Z", "X"):
            continue
        found[int(entry.name)] = int(group)
        if wanted in environ.split(b"\0"):
            marked.add(int(entry.name))
    known = (marked | set(groups)) - {0}  # 0: a group led from outside this PID namespace
    return sorted(pid for pid, group in found.items() if pid in marked or group in known)


def process_groups(pids: Iterable[int]) -> set[int]:
    """The process groups of these processes (those still there)."""
    groups = set()
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            groups.add(int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2]))
    return groups - {0}


async def kill_all(marker: str, groups: Iterable[int] = (), timeout: float = 10.0) -> list[int]:
    """SIGKILL each of processes(marker, groups) until none is left; the pids that were killed."""
    killed: list[int] = []
    try:
        async with asyncio.timeout(timeout):
            while pids := processes(marker, groups):
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    if pid not in killed:
                        killed.append(pid)
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"browser processes still there after SIGKILL: {processes(marker, groups)}") from None
    return killed


def environment(folder: Path, marker: str) -> dict[str, str]:
    """The variables that keep the driver and the browser in `folder`, with the marker that finds them."""
    places = {"TMPDIR": "tmp", "HOME": "home", "XDG_CONFIG_HOME": "home/.config", "XDG_CACHE_HOME": "home/.cache",
              "XDG_DATA_HOME": "home/.local/share", "XDG_STATE_HOME": "home/.local/state", "XDG_RUNTIME_DIR": "run"}
    env = {}
    for name, place in places.items():
        path = folder / place
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        env[name] = str(path)
    return {**env, MARKER: marker}


PRIVATE = {"/tmp": "private/tmp", "/var/tmp": "private/var-tmp", "/dev/shm": "private/shm"}


def wrapper(folder: Path) -> Path:
    """A script that runs CHROMIUM with its arguments in a mount namespace of its own, with PRIVATE's folders of
    `folder` bound over /tmp, /var/tmp and /dev/shm. It execs all the way: Chromium keeps the pid (and the process
    group) Playwright launched, and Playwright's kill reaches it.

    `folder` may itself be under /tmp or /var/tmp (a checkout there): the binds take their sources through a
    descriptor of `folder` opened first, and `folder` is bound back at its own path once they have hidden it, so
    the profile and HOME that Playwright and the environment name there are still found (`mount -c`: the
    descriptor's own folder, not the path it was opened by, which names an empty one once /var/tmp is covered)."""
    here = shlex.quote(str(folder))
    steps = [f"exec 9<{here}"]  # 3 and 4 are Playwright's pipe to the browser
    for mountpoint, place in PRIVATE.items():
        (folder / place).mkdir(mode=0o700, parents=True, exist_ok=True)
        steps.append(f"mount -c --bind /proc/self/fd/9/{place} {mountpoint}")
    steps.append(f"{{ [ -d {here}/private ] || {{ mkdir -p {here} && mount -c --bind /proc/self/fd/9 {here}; }}; }}")
    inner = " && ".join([*steps, f'exec 9<&- {CHROMIUM} "$@"'])
    script = folder / "chromium"
    script.write_text("#!/bin/sh\n# Written by tests/integration/browser.py: Debian's Chromium in a mount namespace "
                      "of its own,\n# with /tmp, /var/tmp and /dev/shm this folder's.\n"
                      f"exec unshare --mount --propagation private sh -c {shlex.quote(inner)} chromium \"$@\"\n")
    script.chmod(0o755)
    return script


@contextlib.asynccontextmanager
async def chromium(folder: Path) -> AsyncIterator[Chromium]:
    """Debian's Chromium, launched headless through Playwright with all its files under `folder`; every one of its
    processes (and the driver's) gone on the way out, whatever happened."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = f"{os.getpid()}-{time.monotonic_ns()}"
    env = environment(folder, marker)
    driver: Playwright | None = None
    launched: Chromium | None = None
    try:
        # The driver (Node) takes its environment from os.environ when it starts: this one, for its start only.
        with mock.patch.dict(os.environ, env):
            async with asyncio.timeout(STEP):
                driver = await async_playwright().start()
        started = time.monotonic()
        async with asyncio.timeout(STEP):
            browser = await driver.chromium.launch(executable_path=wrapper(folder), args=list(FLAGS), headless=True,
                                                   env={**os.environ, **env, "TMPDIR": "/tmp"}, timeout=STEP * 1000)
        launched = Chromium(browser, folder, marker, launch_seconds=time.monotonic() - started,
                            groups=process_groups(processes(marker)))
        try:
            yield launched
        finally:
            async with asyncio.timeout(STEP):
                await browser.close()
    finally:
        try:
            if driver is not None:
                async with asyncio.timeout(STEP):
                    await driver.stop()
        finally:
            killed = await kill_all(marker, launched.groups if launched is not None else ())
            if launched is not None:
                launched.leftovers = killed


def with_web(timeout: float = 120.0) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., None]]:
    """Run an async test with `daemon` (a Daemon in tmp_path, not started: serve() starts it) and `browser` (Chromium,
    launched, its folder tmp_path/browser), both always cleaned up, all under a deadline."""

    def decorate(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
        @functools.wraps(test)
        async def with_browser(daemon: Daemon, **kwargs: Any) -> None:
            async with chromium(daemon.root / "browser") as browser:
                await test(daemon=daemon, browser=browser, **kwargs)

        signature = inspect.signature(test)
        with_browser.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for name, p in signature.parameters.items() if name != "browser"])
        return with_daemon(timeout)(with_browser)

    return decorate
