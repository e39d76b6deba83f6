"""Signing in over TCP: a token pasted once gives a session cookie (HttpOnly, SameSite=Strict, Secure under TLS,
Max-Age its lifetime); the session ends at its time, at sign-out, or when its token is revoked, outlives a
restart, and there are at most so many; only the sign-in page and its files are open to a caller unknown."""
from __future__ import annotations

import re
import stat
import subprocess
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from apsisd.api.session_cookie import COOKIE
from apsisd.web.sign_in import WRONG, destination
from tests.unit.scheduler.rig import Rig, on_rig
from tests.unit.web.site import Answer, Tcp, on_tcp, serving_tcp

JOBS = {"hello": """
    program: echo hello
    schedule: {type: interval, interval: 60}
    """}
LIFETIME = 12 * 3600.0


def cookie_of(answer: Answer) -> str:
    """The session cookie's Set-Cookie header, the one the answer sends."""
    found = [header for header in answer.cookies if header.startswith(f"{COOKIE}=")]
    assert len(found) == 1, answer.cookies
    return found[0]


def flags(header: str) -> dict[str, str]:
    """A Set-Cookie header's attributes, names in lower case (`secure`, `httponly` with empty values)."""
    pairs = [part.strip().partition("=") for part in header.split(";")[1:]]
    return {name.lower(): value for name, _, value in pairs}


def to_sign_in(answer: Answer) -> str:
    """Where a redirect to the sign-in page says to go next."""
    where = urlsplit(answer.headers["Location"])
    assert where.path == "/login", answer.headers["Location"]
    return parse_qs(where.query)["next"][0]


def value_of(header: str) -> str:
    return header.split(";")[0].partition("=")[2]


def test_a_token_signs_a_browser_in_and_a_wrong_one_does_not(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.browser()
        sent = await browser.ask("GET", "/runs?state=running")
        assert sent.status == 303 and to_sign_in(sent) == "/runs?state=running"
        form = await browser.ask("GET", "/login?next=/runs%3Fstate%3Drunning")
        assert form.status == 200 and 'name="token"' in form.text
        assert 'aria-label="Sections"' not in form.text and "Sign out" not in form.text  # nothing shown to no one
        assert 'value="/runs?state=running"' in form.text
        assert "stays signed in for 12 hours" in form.text

        wrong = await browser.ask("POST", "/login", data={"token": tcp.tokens["ops"][:-1] + "x", "next": "/runs"})
        assert wrong.status == 401 and WRONG.split(":")[0] in wrong.text and not wrong.cookies
        empty = await browser.ask("POST", "/login", data={"next": "/runs"})
        assert empty.status == 401 and WRONG.split(":")[0] in empty.text and not empty.cookies

        answer = await browser.ask("POST", "/login", data={"token": tcp.tokens["ops"], "next": "/runs?state=running"})
        assert answer.status == 303 and answer.headers["Location"] == "/runs?state=running"
        header = cookie_of(answer)
        assert flags(header) == {"httponly": "", "max-age": str(int(LIFETIME)), "path": "/", "samesite": "Strict"}
        assert tcp.cookie(browser) == value_of(header)

        page = await browser.ask("GET", "/runs")
        assert page.status == 200 and "token ops (signed in)" in page.text and "Sign out" in page.text
        assert (await browser.ask("GET", "/api/v1/runs")).status == 200  # the page's scripts call the API so
        again = await browser.ask("GET", "/login?next=/jobs")  # signed in already: straight on
        assert again.status == 303 and again.headers["Location"] == "/jobs"

        kept = tcp.sessions.path
        assert kept is not None and stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert value_of(header) not in kept.read_text() and tcp.tokens["ops"] not in kept.read_text()

    on_tcp(tmp_path, JOBS, test, lifetime=LIFETIME)


@pytest.mark.parametrize(("given", "going"), [
    ("/runs?state=failure&job=a", "/runs?state=failure&job=a"),
    ("/runs/r12", "/runs/r12"),
    (None, "/"), ("", "/"), ("runs", "/"),
    ("//evil.example/runs", "/"), ("/\\evil.example", "/"), ("https://evil.example/", "/"),
    ("/runs\nLocation: x", "/"), ("/ runs", "/"), ("/login", "/"), ("/logout", "/"), ("/" + "x" * 3000, "/"),
])
def test_a_browser_goes_on_only_to_a_path_of_apsisd_s_own(given: str | None, going: str) -> None:
    assert destination(given) == going


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost", "-keyout", str(folder / "key.pem"), "-out",
                    str(folder / "cert.pem")], check=True, capture_output=True, timeout=30)
    (folder / "key.pem").chmod(0o600)
    return folder / "cert.pem", folder / "key.pem"


def test_the_cookie_is_secure_under_tls(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.browser()
        answer = await browser.ask("POST", "/login", data={"token": tcp.tokens["viewer"]})
        assert answer.status == 303 and answer.headers["Location"] == "/"
        assert "secure" in flags(cookie_of(answer)) and flags(cookie_of(answer))["samesite"] == "Strict"
        assert (await browser.ask("GET", "/runs")).status == 200

    on_tcp(tmp_path, JOBS, test, tls=certificate)


def test_the_cookie_is_secure_behind_a_proxy_whose_origin_is_https(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.browser()
        answer = await browser.ask("POST", "/login", data={"token": tcp.tokens["viewer"]})
        assert answer.status == 303 and "secure" in flags(cookie_of(answer))

    on_tcp(tmp_path, JOBS, test, origin="https://apsis.example.com")


def test_a_session_ends_at_its_lifetime(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.signed_in("ops")
        tcp.clock.at += timedelta(seconds=LIFETIME - 1)
        assert (await browser.ask("GET", "/runs")).status == 200
        tcp.clock.at += timedelta(seconds=1)
        ended = await browser.ask("GET", "/runs")
        assert ended.status == 303 and to_sign_in(ended) == "/runs"
        assert flags(cookie_of(ended))["max-age"] == "0" and value_of(cookie_of(ended)) in ("", '""')
        assert (await browser.ask("GET", "/api/v1/runs", headers={"Cookie": f"{COOKIE}=x"})).status == 401
        assert len(tcp.sessions) == 0

    on_tcp(tmp_path, JOBS, test, lifetime=LIFETIME)


def test_signing_out_ends_the_session_in_apsisd(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.signed_in("viewer")  # reading is enough to sign out
        old = tcp.cookie(browser)
        csrf = form_token((await browser.ask("GET", "/runs")).text)
        refused = await browser.ask("POST", "/logout")  # another site cannot sign a browser out
        assert refused.status == 403 and "form token" in refused.text
        out = await browser.ask("POST", "/logout", data={"csrf": csrf})
        assert out.status == 303 and out.headers["Location"] == "/login"
        assert flags(cookie_of(out))["max-age"] == "0"
        assert tcp.cookie(browser) is None
        copy = await tcp.browser()  # the old cookie, kept elsewhere, is worth nothing now
        for path, status in (("/runs", 303), ("/api/v1/runs", 401)):
            assert (await copy.ask("GET", path, headers={"Cookie": f"{COOKIE}={old}"})).status == status
        assert len(tcp.sessions) == 0

    on_tcp(tmp_path, JOBS, test)


def test_revoking_a_token_ends_its_sessions(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        ops, viewer = await tcp.signed_in("ops"), await tcp.signed_in("viewer")
        tokens = tmp_path / "api-tokens"
        tokens.write_text("".join(line + "\n" for line in tokens.read_text().splitlines()
                                  if not line.startswith("ops ")))
        assert (await ops.ask("GET", "/runs")).status == 303
        assert (await ops.ask("GET", "/api/v1/runs")).status == 401
        assert (await viewer.ask("GET", "/runs")).status == 200
        assert len(tcp.sessions) == 1

    on_tcp(tmp_path, JOBS, test)


def test_sessions_outlive_a_restart(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await rig.start()
        async with serving_tcp(rig, tmp_path) as first:
            browser = await first.signed_in("ops")
            kept, tokens = first.cookie(browser), first.tokens
            csrf = form_token((await browser.ask("GET", "/runs")).text)
        async with serving_tcp(rig, tmp_path, tokens=tokens) as second:  # a new app, its sessions read from the file
            again = await second.browser()
            page = await again.ask("GET", "/runs", headers={"Cookie": f"{COOKIE}={kept}"})
            assert page.status == 200 and "token ops (signed in)" in page.text
            assert form_token(page.text) == csrf  # and the page's form token with it

    on_rig(tmp_path, JOBS, test)


def test_the_oldest_session_goes_when_there_are_too_many(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browsers = []
        for _ in range(4):
            browsers.append(await tcp.signed_in("viewer"))
            tcp.clock.at += timedelta(seconds=1)
        assert len(tcp.sessions) == 3
        assert [(await browser.ask("GET", "/runs")).status for browser in browsers] == [303, 200, 200, 200]

    on_tcp(tmp_path, JOBS, test, limit=3)


def test_pages_send_an_unknown_caller_to_sign_in_and_the_api_refuses_it(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.browser()
        for path in ("/", "/runs/r1", "/jobs", "/runs/r1/stop"):
            answer = await browser.ask("GET", path)
            assert answer.status == 303 and to_sign_in(answer) == path, path
            assert not answer.cookies  # no cookie was sent: none to take back
        posted = await browser.ask("POST", "/runs/r1/stop")
        assert posted.status == 303 and posted.headers["Location"] == "/login"
        for method, path in (("GET", "/api/v1/runs"), ("GET", "/api/v1/events"), ("GET", "/metrics"),
                             ("POST", "/api/v1/runs/r1/stop")):
            answer = await browser.ask(method, path)
            assert answer.status == 401 and answer.headers["Content-Type"].startswith("application/json"), path
        wrong = await browser.ask("GET", "/runs", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401  # a token sent is checked as a token, never taken for a browser's

    on_tcp(tmp_path, JOBS, test)


def test_only_the_sign_in_page_and_its_files_are_public(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.browser()
        for path in ("/login", "/static/style.css", "/static/page.js", "/favicon.svg"):
            assert (await browser.ask("GET", path)).status == 200, path
        for path in ("/", "/runs", "/jobs", "/control", "/hosts", "/adhoc", "/api/v1/health", "/api/v1/openapi.json",
                     "/metrics", "/login/x", "/static", "/favicon.ico", "/staticx/style.css", "/nowhere"):
            assert (await browser.ask("GET", path)).status in (303, 401), path
        assert (await browser.ask("POST", "/logout")).status == 303  # to sign in: no session, nothing to end
        assert len(tcp.sessions) == 0

    on_tcp(tmp_path, JOBS, test)


def test_a_link_from_another_site_reloads_the_sign_in_page_once(tmp_path: Path) -> None:
    """SameSite=Strict: a link from a chat message comes without the cookie; the page's own reload brings it."""
    async def test(tcp: Tcp) -> None:
        browser = await tcp.signed_in("ops")
        stranger = await tcp.browser()  # as the browser's request from the other site is: without the cookie
        came = await stranger.ask("GET", "/login?next=/runs/r1", headers={"Sec-Fetch-Site": "cross-site"})
        assert came.status == 200 and '<meta http-equiv="refresh" content="0">' in came.text
        reloaded = await browser.ask("GET", "/login?next=/runs/r1", headers={"Sec-Fetch-Site": "same-origin"})
        assert reloaded.status == 303 and reloaded.headers["Location"] == "/runs/r1"
        form = await stranger.ask("GET", "/login", headers={"Sec-Fetch-Site": "same-origin"})
        assert form.status == 200 and "refresh" not in form.text

    on_tcp(tmp_path, JOBS, test)


def form_token(html: str) -> str:
    found = re.search(r'<meta name="apsis-csrf" content="([^"]+)">', html)
    assert found, "no form token in the page"
    return found.group(1)

