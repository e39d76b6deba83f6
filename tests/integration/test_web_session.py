"""A real apsisd's web sessions: a browser signed in over TCP stays signed in across a restart of apsisd (the
sessions file in the state folder, 0600, with no session id in it), acts with its form token, and is signed out
in apsisd itself. HTTP as a browser speaks it; the browser tests (tests/integration/test_web_*.py) drive Chromium."""
from __future__ import annotations

import re
import stat

import aiohttp
from yarl import URL

from apsisd.rights import Right
from apsisd.runs.state import State
from apsisd.tokens_file import new_token
from tests.integration.api import SOCKET
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.test_api_access import free_port, scheduled, tokens_file

OPS = new_token()


def form_token(html: str) -> str:
    found = re.search(r'<meta name="apsis-csrf" content="([^"]+)">', html)
    assert found, "no form token in the page"
    return found.group(1)


@with_daemon()
async def test_a_session_outlives_a_restart_and_ends_at_sign_out(daemon: Daemon) -> None:
    tokens = tokens_file(daemon.root, ("ops", Right.OPERATE, OPS))
    port = free_port()
    daemon.job("later", 'program: "true"\n')
    config = daemon.config(f"""
        [api]
        listen = ["unix:{SOCKET}", "tcp:127.0.0.1:{port}"]
        tokens = "{tokens}"
        [web]
        session_lifetime = "1h"
        """)
    await daemon.start(*config)
    run_id = await scheduled(daemon)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(f"{url}/login", data={"token": OPS, "next": f"/runs/{run_id}"},
                                allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"] == f"/runs/{run_id}"
            assert "Max-Age=3600" in answer.headers["Set-Cookie"]
        cookie = browser.cookie_jar.filter_cookies(URL(url))["apsis_session"].value
        sessions = daemon.state / "web-sessions.json"
        assert stat.S_IMODE(sessions.stat().st_mode) == 0o600 and cookie not in sessions.read_text()

        assert await daemon.stop() == 0
        await daemon.start(*config)
        async with browser.get(f"{url}/runs/{run_id}", allow_redirects=False) as page:
            assert page.status == 200, "signed out by a restart"
            text = await page.text()
        assert "token ops (signed in)" in text
        async with browser.post(f"{url}/runs/{run_id}/skip", data={"csrf": form_token(text)},
                                headers={"Origin": url}, allow_redirects=False) as done:
            assert done.status == 303, await done.text()
        (skipped, *_) = await daemon.runs("later")
        assert (skipped.state, skipped.reason) == (State.SKIPPED, "skipped by token ops (signed in) through the API")

        async with browser.post(f"{url}/logout", data={"csrf": form_token(text)}, allow_redirects=False) as out:
            assert out.status == 303 and out.headers["Location"] == "/login"
    async with aiohttp.ClientSession() as copy, copy.get(
            f"{url}/api/v1/runs", headers={"Cookie": f"apsis_session={cookie}"}) as after:
        assert after.status == 401
    assert OPS not in daemon.log() and cookie not in daemon.log()
    assert "web: token ops signed in from 127.0.0.1 (operate)" in daemon.log()
    assert "web: token ops signed out" in daemon.log()
