"""The web page in process, on the scheduler rig (tests/unit/scheduler/rig.py: the fake host, a moving clock, a
real store): apsisd's app with the page installed, served on a Unix socket of the test's own, so the caller is
this process's user (an admin); what a page says is read as HTML text. With `tokens` (name -> right), the app
listens on loopback TCP too, and `as_=NAME` asks there with that token: a caller of a lesser right. The browser
tests (tests/integration) show what a reader sees; these show what each page holds, fast and exactly."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from apsisd.api.access import Policy
from apsisd.api.app import make_app
from apsisd.api.state import ApiState
from apsisd.api.tokens import TokenStore
from apsisd.jobs.load import load_jobs
from apsisd.rights import Right
from apsisd.scheduler.metrics import RunMetrics
from apsisd.scheduler.reload import Reloader, ReloadResult
from apsisd.tokens_file import new_token, token_line
from apsisd.web.app import install
from tests.unit.scheduler.rig import START, Rig, on_rig


@dataclass
class Site:
    rig: Rig
    client: aiohttp.ClientSession
    tcp: aiohttp.ClientSession | None = None
    base: str = ""  # the TCP address's URL, with tokens
    tokens: dict[str, str] = field(default_factory=dict)  # name -> token

    def _as(self, as_: str | None, kwargs: dict[str, Any]) -> tuple[aiohttp.ClientSession, str]:
        if as_ is None:
            return self.client, "http://apsis"
        assert self.tcp is not None, "serve with tokens= to ask as a token's holder"
        kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"Bearer {self.tokens[as_]}"}
        return self.tcp, self.base

    async def get(self, path: str, as_: str | None = None, **kwargs: Any) -> tuple[int, str]:
        client, base = self._as(as_, kwargs)
        async with client.get(f"{base}{path}", allow_redirects=False, **kwargs) as response:
            return response.status, await response.text()

    async def post(self, path: str, data: Mapping[str, str] | None = None, as_: str | None = None,
                   **kwargs: Any) -> aiohttp.ClientResponse:
        client, base = self._as(as_, kwargs)
        async with client.post(f"{base}{path}", data=data or {}, allow_redirects=False,
                               **kwargs) as response:
            await response.read()
            return response


    async def submit(self, path: str, data: Mapping[str, str] | None = None, as_: str | None = None,
                     **kwargs: Any) -> tuple[int, str, str]:
        """A form posted: the answer's status, its Location (a 303's), and its page."""
        client, base = self._as(as_, kwargs)
        async with client.post(f"{base}{path}", data=data or {}, allow_redirects=False, **kwargs) as response:
            return response.status, response.headers.get("Location", ""), await response.text()


async def _no_reload(dry_run: bool = False) -> ReloadResult:
    raise AssertionError("no reload in this test")


@contextlib.asynccontextmanager
async def serving(rig: Rig, folder: Path, reload: Callable[..., Awaitable[ReloadResult]] = _no_reload,
                  tokens: Mapping[str, Right] | None = None) -> AsyncIterator[Site]:
    given = {name: new_token() for name in tokens or {}}
    store = None
    if tokens:
        (folder / "tokens").write_text("".join(f"{token_line(name, right, given[name])}\n"
                                               for name, right in tokens.items()))
        store = TokenStore(folder / "tokens")
    state = ApiState(scheduler=rig.scheduler, reload=reload, policy=Policy(), started=rig.clock.now(),
                     metrics=RunMetrics(rig.scheduler.ledger, lambda: rig.scheduler.jobs.jobs, lambda: True, 100),
                     tokens=store)
    app = make_app(state)
    install(app)
    runner = web.AppRunner(app)
    await runner.setup()
    path = folder / "api.sock"
    site = web.UnixSite(runner, str(path))
    await site.start()
    base = ""
    if tokens:
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        base = f"http://127.0.0.1:{runner.addresses[-1][1]}"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(path))) as client, \
                aiohttp.ClientSession() as by_tcp:
            yield Site(rig=rig, client=client, tcp=by_tcp, base=base, tokens=given)
    finally:
        await runner.cleanup()


def on_site(tmp_path: Path, jobs: Mapping[str, str], test: Callable[[Site], Awaitable[Any]], *,
            at: datetime = START, remotes: tuple[str, ...] = (), tokens: Mapping[str, Right] | None = None,
            reloads: bool = False) -> None:
    """`test` on a started rig with these jobs, its page served; `tokens` (name -> right) served over TCP too;
    `reloads`: the reload reads the rig's jobs folder again (as apsisd's does)."""
    async def with_site(rig: Rig) -> None:
        await rig.start()
        reload = Reloader(rig.scheduler, partial(load_jobs, rig.folder)).reload if reloads else _no_reload
        async with serving(rig, tmp_path, reload, tokens) as site:
            await test(site)

    on_rig(tmp_path, jobs, with_site, at=at, remotes=remotes)

