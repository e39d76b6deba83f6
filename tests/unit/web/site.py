"""The web page in process, on the scheduler rig (tests/unit/scheduler/rig.py: the fake host, a moving clock, a
real store): apsisd's app with the page installed, served on a Unix socket of the test's own, so the caller is
this process's user (an admin); what a page says is read as HTML text. The browser tests (tests/integration) show
what a reader sees; these show what each page holds, fast and exactly.

`serving_tcp` serves it over TCP instead, as to a browser elsewhere: with a tokens file, sessions kept in a file
whose clock the test sets (`Tcp.clock`), TLS if asked; its clients keep cookies as a browser does."""
from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from apsisd.api.access import Policy
from apsisd.api.app import make_app
from apsisd.api.session_cookie import COOKIE
from apsisd.api.sessions import SessionStore
from apsisd.api.state import ApiState
from apsisd.api.tokens import TokenStore
from apsisd.daemon.api_server import tls_context
from apsisd.jobs.load import load_jobs
from apsisd.rights import Right
from apsisd.scheduler.metrics import RunMetrics
from apsisd.scheduler.reload import Reloader, ReloadResult
from apsisd.tokens_file import new_token, token_line
from apsisd.web.app import install
from tests.unit.scheduler.fake_clock import SetClock
from tests.unit.scheduler.rig import START, Rig, on_rig


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str
    headers: Mapping[str, str]
    cookies: list[str]  # the Set-Cookie headers, as sent


@dataclass
class Site:
    rig: Rig
    client: aiohttp.ClientSession
    base: str = "http://apsis"

    async def ask(self, method: str, path: str, **kwargs: Any) -> Answer:
        """Any request, redirects not followed: its answer whole."""
        async with self.client.request(method, f"{self.base}{path}", allow_redirects=False, **kwargs) as response:
            return Answer(status=response.status, text=await response.text(), headers=dict(response.headers),
                          cookies=response.headers.getall("Set-Cookie", []))

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        async with self.client.get(f"{self.base}{path}", allow_redirects=False, **kwargs) as response:
            return response.status, await response.text()

    async def answer(self, path: str) -> tuple[int, dict[str, str], str]:
        """The status, headers and text of a GET."""
        async with self.client.get(f"http://apsis{path}", allow_redirects=False) as response:
            return response.status, dict(response.headers), await response.text()

    async def post(self, path: str, data: Mapping[str, str] | None = None, **kwargs: Any) -> aiohttp.ClientResponse:
        async with self.client.post(f"{self.base}{path}", data=data or {}, allow_redirects=False,
                                    **kwargs) as response:
            await response.read()
            return response


    async def submit(self, path: str, data: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """A form posted: the answer's status, its Location (a 303's), and its page."""
        answer = await self.ask("POST", path, data=data or {})
        return answer.status, answer.headers.get("Location", ""), answer.text


async def _no_reload(dry_run: bool = False) -> ReloadResult:
    raise AssertionError("no reload in this test")


@contextlib.asynccontextmanager
async def serving(rig: Rig, folder: Path, reload: Callable[..., Awaitable[ReloadResult]] = _no_reload
                  ) -> AsyncIterator[Site]:
    state = ApiState(scheduler=rig.scheduler, reload=reload, policy=Policy(), started=rig.clock.now(),
                     metrics=RunMetrics(rig.scheduler.ledger, lambda: rig.scheduler.jobs.jobs, lambda: True, 100))
    app = make_app(state)
    install(app)
    runner = web.AppRunner(app)
    await runner.setup()
    path = folder / "api.sock"
    site = web.UnixSite(runner, str(path))
    await site.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(path))) as client:
            yield Site(rig=rig, client=client)
    finally:
        await runner.cleanup()


@dataclass
class Tcp:
    """The page over TCP: `tokens` (name -> token) in the tokens file, `sessions` with `clock`; `browser()`
    another client, a browser of its own (no cookies), on the same address."""

    rig: Rig
    address: str
    tokens: dict[str, str]
    sessions: SessionStore
    clock: SetClock
    ssl: ssl.SSLContext | None
    clients: contextlib.AsyncExitStack

    async def browser(self) -> Site:
        connector = aiohttp.TCPConnector(ssl=self.ssl) if self.ssl is not None else aiohttp.TCPConnector()
        client = await self.clients.enter_async_context(
            aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)))
        return Site(rig=self.rig, client=client, base=self.address)

    def cookie(self, site: Site) -> str | None:
        """The session cookie `site`'s browser holds."""
        found = site.client.cookie_jar.filter_cookies(URL(self.address)).get(COOKIE)
        return found.value if found is not None else None

    async def signed_in(self, name: str) -> Site:
        """A browser signed in with the token `name`."""
        browser = await self.browser()
        answer = await browser.ask("POST", "/login", data={"token": self.tokens[name], "next": "/runs"})
        assert answer.status == 303, answer.text
        return browser


TOKENS = {"ops": Right.OPERATE, "viewer": Right.READ, "root": Right.ADMIN}


@contextlib.asynccontextmanager
async def serving_tcp(rig: Rig, folder: Path, *, lifetime: float = 12 * 3600.0, limit: int = 1000,
                      tls: tuple[Path, Path] | None = None, origin: str | None = None,
                      tokens: dict[str, str] | None = None,
                      reload: Callable[..., Awaitable[ReloadResult]] = _no_reload) -> AsyncIterator[Tcp]:
    """The page on 127.0.0.1 (a port of its own), with a token for each of TOKENS in a tokens file in `folder`
    and sessions kept in a file there; over TLS with `tls` (certificate, key). `tokens`: those of a tokens file
    written before, kept (apsisd restarted on the same files)."""
    tokens_file = folder / "api-tokens"
    if tokens is None:
        tokens = {name: new_token() for name in TOKENS}
        tokens_file.write_text("".join(f"{token_line(name, TOKENS[name], token)}\n" for name, token in tokens.items()))
        tokens_file.chmod(0o600)
    clock = SetClock(START)
    sessions = SessionStore(folder / "web-sessions.json", lifetime, clock.now, limit=limit)
    state = ApiState(scheduler=rig.scheduler, reload=reload, policy=Policy(), started=rig.clock.now(),
                     metrics=RunMetrics(rig.scheduler.ledger, lambda: rig.scheduler.jobs.jobs, lambda: True, 100),
                     tokens=TokenStore(tokens_file), sessions=sessions, origin=origin)
    app = make_app(state)
    install(app)
    runner = web.AppRunner(app)
    await runner.setup()
    server_tls = tls_context(*tls) if tls else None
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client_tls = None
    if tls:
        client_tls = ssl.create_default_context(cafile=str(tls[0]))
        client_tls.check_hostname = False
    try:
        async with contextlib.AsyncExitStack() as clients:
            yield Tcp(rig=rig, address=f"{'https' if tls else 'http'}://127.0.0.1:{port}", tokens=tokens,
                      sessions=sessions, clock=clock, ssl=client_tls, clients=clients)
    finally:
        await runner.cleanup()


def on_tcp(tmp_path: Path, jobs: Mapping[str, str], test: Callable[[Tcp], Awaitable[Any]], *, reloads: bool = False,
           **options: Any) -> None:
    """`test` on a started rig with these jobs, its page served over TCP (serving_tcp's `options`); `reloads`:
    the reload reads the rig's jobs folder again (as apsisd's does)."""
    async def with_site(rig: Rig) -> None:
        await rig.start()
        if reloads:
            options["reload"] = _reloader(rig)
        async with serving_tcp(rig, tmp_path, **options) as tcp:
            await test(tcp)

    on_rig(tmp_path, jobs, with_site)


def _reloader(rig: Rig) -> Callable[..., Awaitable[ReloadResult]]:
    return Reloader(rig.scheduler, partial(load_jobs, rig.folder)).reload


def on_site(tmp_path: Path, jobs: Mapping[str, str], test: Callable[[Site], Awaitable[Any]], *,
            at: datetime = START, remotes: tuple[str, ...] = (), reloads: bool = False) -> None:
    """`test` on a started rig with these jobs, its page served; `reloads`: the reload reads the rig's jobs folder
    again (as apsisd's does)."""
    async def with_site(rig: Rig) -> None:
        await rig.start()
        async with serving(rig, tmp_path, _reloader(rig) if reloads else _no_reload) as site:
            await test(site)

    on_rig(tmp_path, jobs, with_site, at=at, remotes=remotes)

