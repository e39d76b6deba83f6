"""The web page in process, on the scheduler rig (tests/unit/scheduler/rig.py: the fake host, a moving clock, a
real store): apsisd's app with the page installed, served on a Unix socket of the test's own, so the caller is
this process's user (an admin); what a page says is read as HTML text. The browser tests (tests/integration) show
what a reader sees; these show what each page holds, fast and exactly."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from apsisd.api.access import Policy
from apsisd.api.app import make_app
from apsisd.api.state import ApiState
from apsisd.scheduler.metrics import RunMetrics
from apsisd.scheduler.reload import ReloadResult
from apsisd.web.app import install
from tests.unit.scheduler.rig import START, Rig, on_rig


@dataclass
class Site:
    rig: Rig
    client: aiohttp.ClientSession

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        async with self.client.get(f"http://apsis{path}", allow_redirects=False, **kwargs) as response:
            return response.status, await response.text()

    async def answer(self, path: str) -> tuple[int, dict[str, str], str]:
        """The status, headers and text of a GET."""
        async with self.client.get(f"http://apsis{path}", allow_redirects=False) as response:
            return response.status, dict(response.headers), await response.text()

    async def post(self, path: str, data: Mapping[str, str] | None = None, **kwargs: Any) -> aiohttp.ClientResponse:
        async with self.client.post(f"http://apsis{path}", data=data or {}, allow_redirects=False,
                                    **kwargs) as response:
            await response.read()
            return response


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


def on_site(tmp_path: Path, jobs: Mapping[str, str], test: Callable[[Site], Awaitable[Any]], *,
            at: datetime = START, remotes: tuple[str, ...] = ()) -> None:
    """`test` on a started rig with these jobs, its page served."""
    async def with_site(rig: Rig) -> None:
        await rig.start()
        async with serving(rig, tmp_path) as site:
            await test(site)

    on_rig(tmp_path, jobs, with_site, at=at, remotes=remotes)

