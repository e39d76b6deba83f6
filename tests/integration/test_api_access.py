"""Who may call the API over TCP, for every route the app has (listed from the app itself, so a route added later
is covered): bearer tokens, over TLS and plain on loopback, added and revoked without a restart. Unauthorized
callers are refused before any route runs: 401 without a valid token, 403 without the right. Every right on every
route on both transports, the socket's by the caller's user and group, is test_api_rights.py's matrix."""
from __future__ import annotations

import socket
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from apsisd.api.app import make_app
from apsisd.api.state import ApiState
from apsisd.rights import Right
from apsisd.runs.state import State
from apsisd.tokens_file import new_token, token_line
from tests.integration.api import SOCKET, post
from tests.integration.daemon import Daemon, with_daemon

READING = ("GET", "HEAD")
OPS, VIEWER = new_token(), new_token()  # operate, read


def routes() -> list[tuple[str, str]]:
    """(method, path pattern) of every route of the API's app (the state is not looked at to build it)."""
    app = make_app(cast(ApiState, object()))
    return sorted({(route.method, route.resource.canonical) for route in app.router.routes()
                   if route.resource is not None})


def fill(pattern: str, run_id: str) -> str:
    path = pattern.replace("{run_id}", run_id).replace("{job_id}", "later")
    assert "{" not in path, f"{pattern}: tell this test what to put in its variables"
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def openssl_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return cert, key


def tls_api(port: int, tokens: Path, cert: Path, key: Path) -> str:
    """apsisd.toml's [api]: the socket, and TCP on 127.0.0.1:`port` with these tokens and TLS."""
    return f"""
        [api]
        listen = ["unix:{SOCKET}", "tcp:127.0.0.1:{port}"]
        tokens = "{tokens}"
        tls_cert = "{cert}"
        tls_key = "{key}"
        """


def tokens_file(folder: Path, *entries: tuple[str, Right, str]) -> Path:
    path = folder / "api-tokens"
    path.write_text("# name right hash\n" + "".join(f"{token_line(*entry)}\n" for entry in entries))
    return path


class Tcp:
    """An HTTP client of one TCP address."""

    def __init__(self, url: str, ca: Path | None = None) -> None:
        self.url = url
        self.tls = ssl.create_default_context(cafile=str(ca)) if ca else None

    async def call(self, method: str, path: str, token: str | None = None, body: Any = None
                   ) -> tuple[int, dict[str, str], Any]:
        """Status, headers, and the JSON body of a POST or a refusal (a GET's is not read: some stream)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as session:
            async with session.request(method, f"{self.url}{path}", headers=headers, json=body,
                                       ssl=self.tls or True) as response:
                read = method == "POST" or (response.status >= 400 and method != "HEAD")
                return response.status, dict(response.headers), await response.json() if read else None


async def scheduled(daemon: Daemon) -> str:
    """The id of a run of the job `later` that stays scheduled (due tomorrow), made on the socket as root."""
    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, made = await post("/api/v1/runs", {"job_id": "later", "at": at})
    assert status == 201, made
    return str(made["runs"][0]["run_id"])


def refused(body: Any, method: str) -> bool:
    """A refusal: JSON with an error (a HEAD answer has no body)."""
    return method == "HEAD" or (isinstance(body, dict) and bool(body.get("error")))


@with_daemon()
async def test_tcp_with_tls_refuses_every_route_without_a_token_and_operations_without_the_right(
        daemon: Daemon) -> None:
    cert, key = openssl_cert(daemon.root)
    tokens = tokens_file(daemon.root, ("ops", Right.OPERATE, OPS), ("viewer", Right.READ, VIEWER))
    port = free_port()
    daemon.job("later", 'program: "true"\n')
    await daemon.start(*daemon.config(tls_api(port, tokens, cert, key)))
    run_id = await scheduled(daemon)
    tcp = Tcp(f"https://127.0.0.1:{port}", ca=cert)
    status, headers, body = await tcp.call("GET", "/api/v1/health")
    assert (status, headers["WWW-Authenticate"], body) == (
        401, "Bearer", {"error": "this address needs a bearer token (Authorization: Bearer TOKEN)"})
    assert headers.get("Connection") == "close", "a refused caller must not keep its connection"
    status, headers, body = await tcp.call("GET", "/api/v1/health", token=VIEWER, body={"x": 1})
    assert (status, body) == (400, {"error": "GET takes no body"})
    status, headers, body = await tcp.call("GET", "/api/v1/health", token=new_token())
    assert (status, headers["WWW-Authenticate"], body) == (
        401, 'Bearer error="invalid_token"', {"error": "the bearer token is not valid: unknown, or revoked"})
    for method, pattern in routes():
        path = fill(pattern, run_id)
        status, headers, body = await tcp.call(method, path)
        assert (status, headers.get("WWW-Authenticate"), refused(body, method)) == (401, "Bearer", True), (
            method, path)
        if method not in READING:
            status, headers, body = await tcp.call(method, path, token=VIEWER)
            assert (status, refused(body, method), headers.get("Connection")) == (403, True, "close"), (method, path)
            assert body["error"] == "not allowed: token viewer may read, not operate (the right operate is held " \
                                    "by tokens with the right operate or admin)"
    status, _, _ = await tcp.call("GET", f"/api/v1/runs/{run_id}", token=VIEWER)
    assert status == 200 and (await daemon.runs("later"))[0].state is State.SCHEDULED  # nothing was done
    assert (await tcp.call("POST", f"/api/v1/runs/{run_id}/skip", token=OPS))[0] == 200
    (skipped, *_) = await daemon.runs("later")
    assert (skipped.state, skipped.reason) == (State.SKIPPED, "skipped by token ops through the API")
    with pytest.raises(aiohttp.ClientError):  # plain HTTP to the TLS port: no answer
        await Tcp(f"http://127.0.0.1:{port}").call("GET", "/api/v1/health", token=OPS)
    assert OPS not in daemon.log() and VIEWER not in daemon.log()


@with_daemon()
async def test_plain_tcp_on_loopback_and_tokens_added_and_revoked_without_a_restart(daemon: Daemon) -> None:
    tokens = tokens_file(daemon.root, ("viewer", Right.READ, VIEWER))
    port = free_port()
    daemon.job("later", 'program: "true"\n')
    await daemon.start(*daemon.config(f"""
        api.listen = ["unix:{SOCKET}", "tcp:127.0.0.1:{port}"]
        api.tokens = "{tokens}"
        """))
    run_id = await scheduled(daemon)
    tcp = Tcp(f"http://127.0.0.1:{port}")
    skip = f"/api/v1/runs/{run_id}/skip"
    assert (await tcp.call("GET", "/api/v1/jobs", token=VIEWER))[0] == 200
    assert (await tcp.call("POST", skip, token=VIEWER))[0] == 403
    assert (await tcp.call("POST", skip, token=OPS))[0] == 401
    tokens_file(daemon.root, ("viewer", Right.READ, VIEWER), ("ops", Right.OPERATE, OPS))  # added
    assert (await tcp.call("GET", "/api/v1/health", token=OPS))[0] == 200  # read again on the next request
    assert f"API tokens: read 2 from {tokens}" in daemon.log()
    with tokens.open("a") as file:
        file.write("broken line\n")  # a mistake: the tokens before stay
    for _ in range(3):
        assert (await tcp.call("GET", "/api/v1/health", token=OPS))[0] == 200
    assert daemon.log().count(f"{tokens}:4: 2 fields where a token's line has 3") == 1  # said once
    assert daemon.log().count("the tokens read before stay in force until it is fixed") == 1
    tokens_file(daemon.root, ("ops", Right.OPERATE, OPS))  # viewer revoked, the mistake mended
    assert (await tcp.call("GET", "/api/v1/health", token=VIEWER))[0] == 401
    assert (await tcp.call("POST", skip, token=OPS))[0] == 200
    assert OPS not in daemon.log() and VIEWER not in daemon.log()


@with_daemon()
async def test_what_tcp_needs_but_cannot_use_stops_apsisd_naming_it(daemon: Daemon) -> None:
    cert, key = openssl_cert(daemon.root)
    tokens = tokens_file(daemon.root, ("ops", Right.OPERATE, OPS))
    port = free_port()

    async def start(tls_cert: Path, tokens_path: Path) -> str:
        before = len(daemon.log()) if daemon.log_file.exists() else 0
        await daemon.start(*daemon.config(tls_api(port, tokens_path, tls_cert, key)), ready=False)
        assert await daemon.wait_exit() == 1
        return daemon.log()[before:]

    (daemon.root / "junk.pem").write_text("not a certificate\n")
    assert f"apsisd: {daemon.root}/junk.pem: not a PEM certificate (tls_cert)" in await start(daemon.root / "junk.pem",
                                                                                              tokens)
    assert f"{daemon.root}/none: cannot read the API's tokens file: No such file or directory" in await start(
        cert, daemon.root / "none")
    tokens.write_text(f"{token_line('ops', Right.OPERATE, OPS)}\nops read sha256:{'0' * 64}\n")
    log = await start(cert, tokens)
    assert f"{tokens}:2: the name ops is also on line 1" in log
    assert f"apsisd: the API's tokens file {tokens} has 1 problems; fix them and start again" in log
    tokens_file(daemon.root, ("ops", Right.OPERATE, OPS))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        log = await start(cert, tokens)
    assert f"apsisd: cannot serve the API on tcp:127.0.0.1:{port}: Address already in use" in log
    assert "Traceback" not in daemon.log()
