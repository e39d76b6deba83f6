"""Cross-site requests refused: a signed-in browser's changes carry its session's form token; any change whose
Origin is another site's, or that the browser says another site started, is refused whoever sends it (a session,
a bearer token, the socket); a read-only session changes nothing."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from agentd.types import RunId
from apsisd.runs.state import State
from tests.unit.web.site import Site, Tcp, on_site, on_tcp

JOBS = {"hello": """
    program: echo hello
    schedule: {type: interval, interval: 60}
    """}


def form_token(html: str) -> str:
    found = re.search(r'<meta name="apsis-csrf" content="([^"]+)">', html)
    assert found, "no form token in the page"
    return found.group(1)


async def coming(site: Site | Tcp, count: int) -> list[RunId]:
    """`count` runs of hello still to come."""
    await site.rig.until(lambda: len(site.rig.scheduled("hello")) >= count)
    return [run.id for run in site.rig.scheduled("hello")[:count]]


async def state_of(site: Site, run_id: RunId) -> State:
    """The run's state, as the API tells `site`."""
    answer = await site.ask("GET", f"/api/v1/runs/{run_id}")
    assert answer.status == 200, answer.text
    return State(json.loads(answer.text)["state"])


def test_a_session_s_changes_carry_its_form_token(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.signed_in("ops")
        csrf = form_token((await browser.ask("GET", "/runs")).text)
        first, second, third = await coming(tcp, 3)
        refusals: list[tuple[str, Mapping[str, str]]] = [
            ("missing", {}), ("wrong", {"X-Apsis-CSRF": csrf[:-2] + "xx"}), ("empty", {"X-Apsis-CSRF": ""})]
        for why, headers in refusals:
            refused = await browser.ask("POST", f"/api/v1/runs/{first}/skip", headers=headers)
            assert refused.status == 403 and "form token" in refused.text, why
            form = await browser.ask("POST", f"/runs/{first}/skip", data={"csrf": headers.get("X-Apsis-CSRF", "")})
            assert form.status == 403 and "form token" in form.text, why
        assert await state_of(browser, first) is State.SCHEDULED

        done = await browser.ask("POST", f"/api/v1/runs/{first}/skip", headers={"X-Apsis-CSRF": csrf})
        assert done.status == 200, done.text
        posted = await browser.ask("POST", f"/runs/{second}/skip", data={"csrf": csrf})
        assert posted.status == 303 and posted.headers["Location"] == f"/runs/{second}"
        own = await browser.ask("POST", f"/runs/{third}/skip", data={"csrf": csrf},
                                headers={"Origin": tcp.address, "Sec-Fetch-Site": "same-origin"})
        assert own.status == 303, own.text
        assert [await state_of(browser, run) for run in (first, second, third)] == [State.SKIPPED] * 3

    on_tcp(tmp_path, JOBS, test)


def test_another_site_s_changes_are_refused_whoever_sends_them(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.signed_in("ops")
        csrf = form_token((await browser.ask("GET", "/runs")).text)
        run_id = (await coming(tcp, 1))[0]
        bearer = {"Authorization": f"Bearer {tcp.tokens['ops']}"}
        port = tcp.address.rpartition(":")[2]
        foreign = [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"Origin": f"http://127.0.0.2:{port}"},
                   {"Origin": f"https://127.0.0.1:{port}"}, {"Sec-Fetch-Site": "cross-site"},
                   {"Origin": tcp.address, "Sec-Fetch-Site": "cross-site"}]
        for headers in foreign:
            for site, extra in ((browser, {"X-Apsis-CSRF": csrf}), (await tcp.browser(), bearer)):
                refused = await site.ask("POST", f"/api/v1/runs/{run_id}/skip", headers={**headers, **extra})
                assert refused.status == 403 and "refused" in refused.text, (headers, refused.text)
            refused = await browser.ask("POST", "/login", data={"token": tcp.tokens["root"]}, headers=headers)
            assert refused.status == 403, headers  # nor may another site sign a browser in as someone else
        assert await state_of(browser, run_id) is State.SCHEDULED
        reading = await browser.ask("GET", "/runs", headers={"Sec-Fetch-Site": "cross-site"})
        assert reading.status == 200  # a link from elsewhere is only a look (and brings no cookie in a browser)

        by_token = await (await tcp.browser()).ask("POST", f"/api/v1/runs/{run_id}/skip", headers=bearer)
        assert by_token.status == 200, by_token.text  # a program: no Origin, no form token needed

    on_tcp(tmp_path, JOBS, test)


def test_the_origin_of_a_proxy_is_apsisd_s_own(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.browser()
        signed = await browser.ask("POST", "/login", data={"token": tcp.tokens["ops"]},
                                   headers={"Origin": "https://apsis.example.com"})
        assert signed.status == 303, signed.text
        # The cookie is Secure (the proxy's address is https): sent here by hand, as the proxy would pass it on.
        cookie = {"Cookie": signed.headers["Set-Cookie"].split(";")[0]}
        csrf = form_token((await browser.ask("GET", "/runs", headers=cookie)).text)
        run_id = (await coming(tcp, 1))[0]
        done = await browser.ask("POST", f"/api/v1/runs/{run_id}/skip",
                                 headers={**cookie, "X-Apsis-CSRF": csrf, "Origin": "https://apsis.example.com"})
        assert done.status == 200, done.text

    on_tcp(tmp_path, JOBS, test, origin="https://apsis.example.com")


def test_a_read_only_session_changes_nothing(tmp_path: Path) -> None:
    async def test(tcp: Tcp) -> None:
        browser = await tcp.signed_in("viewer")
        run_id = (await coming(tcp, 1))[0]
        page = await browser.ask("GET", f"/runs/{run_id}")
        assert page.status == 200 and "token viewer (signed in)" in page.text
        assert "data-api=" not in page.text and f"/runs/{run_id}/skip" not in page.text  # no button to press
        csrf = form_token(page.text)
        forged = await browser.ask("POST", f"/runs/{run_id}/skip", data={"csrf": csrf})
        assert forged.status == 403 and "may read, not operate" in forged.text
        by_api = await browser.ask("POST", f"/api/v1/runs/{run_id}/skip", headers={"X-Apsis-CSRF": csrf})
        assert by_api.status == 403
        assert await state_of(browser, run_id) is State.SCHEDULED

    on_tcp(tmp_path, JOBS, test)


def test_the_socket_refuses_another_site_s_changes_too(tmp_path: Path) -> None:
    """A browser may reach the socket through ssh -L: no cookie, no token, so the Origin is all that tells."""
    async def test(site: Site) -> None:
        run_id = (await coming(site, 1))[0]
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            refused = await site.ask("POST", f"/runs/{run_id}/skip", headers={"Host": "localhost:8080", **headers})
            assert refused.status == 403 and "ssh -L" not in refused.text, headers
        assert await state_of(site, run_id) is State.SCHEDULED
        # DNS rebinding: another site's page, its name now resolving to the tunnel's 127.0.0.1, is of the same
        # origin as the address it sends to; the name is another site's, not this machine's.
        rebound = {"Host": "evil.example:8080", "Origin": "http://evil.example:8080", "Sec-Fetch-Site": "same-origin"}
        for method in ("GET", "POST"):
            refused = await site.ask(method, f"/runs/{run_id}/skip", headers=rebound)
            assert refused.status == 403 and "ssh -L" in refused.text, method
        assert await state_of(site, run_id) is State.SCHEDULED
        done = await site.ask("POST", f"/runs/{run_id}/skip", headers={
            "Host": "localhost:8080", "Origin": "http://localhost:8080", "Sec-Fetch-Site": "same-origin"})
        assert done.status == 303, done.text  # its own page's form, through the tunnel: no form token on the socket

    on_site(tmp_path, JOBS, test)


def test_refusals_at_a_page_s_address_are_pages_and_the_api_s_stay_json(tmp_path: Path) -> None:
    """A stale tab's form (its session ended, another begun), a forged one and one beyond the caller's right are
    refused as pages a browser shows; the connection still ends with the refusal."""
    async def test(tcp: Tcp) -> None:
        ops = await tcp.signed_in("ops")
        (first,) = await coming(tcp, 1)
        csrf = form_token((await ops.ask("GET", "/runs")).text)
        viewer = await tcp.signed_in("viewer")
        refused = {
            "stale form token": await ops.ask("POST", f"/runs/{first}/skip", data={"csrf": "stale"}),
            "another site": await ops.ask("POST", f"/runs/{first}/skip", data={"csrf": csrf},
                                          headers={"Origin": "https://elsewhere.example"}),
            "too low a right": await viewer.ask("POST", f"/runs/{first}/skip", data={"csrf": csrf}),
        }
        for why, answer in refused.items():
            assert answer.status == 403, why
            assert answer.headers["Content-Type"].startswith("text/html"), why
            assert "<h1>Refused</h1>" in answer.text and 'href="/runs"' in answer.text, why
            assert answer.headers.get("Connection", "").lower() == "close", why
        assert "form token" in refused["stale form token"].text
        assert "elsewhere.example" in refused["another site"].text
        assert "operate" in refused["too low a right"].text
        api = await ops.ask("POST", f"/api/v1/runs/{first}/skip", headers={"X-Apsis-CSRF": "stale"})
        assert api.status == 403 and api.headers["Content-Type"].startswith("application/json")
        assert "form token" in json.loads(api.text)["error"]
        assert await state_of(ops, first) is State.SCHEDULED

    on_tcp(tmp_path, JOBS, test)
