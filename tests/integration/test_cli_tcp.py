"""`apsis` against a real apsisd over TCP: https with its CA and a bearer token (from $APSIS_TOKEN or
--token-file), plain http on loopback; each refusal (no token, a read-only token, an unknown CA) said in one line."""
from __future__ import annotations

import json

from apsisd.rights import Right
from apsisd.tokens_file import new_token
from tests.integration.apsis_cli import Running, apsis
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.test_api_access import free_port, openssl_cert, tls_api, tokens_file

OPS, VIEWER = new_token(), new_token()


@with_daemon()
async def test_https_with_a_token_and_its_ca(daemon: Daemon) -> None:
    cert, key = openssl_cert(daemon.root)
    tokens = tokens_file(daemon.root, ("ops", Right.OPERATE, OPS), ("viewer", Right.READ, VIEWER))
    secure, plain = free_port(), free_port()
    daemon.job("hello", 'program: "echo hello"\n')
    await daemon.start(*daemon.config(tls_api(secure, tokens, cert, key)))
    url = f"https://127.0.0.1:{secure}"
    (daemon.root / "ops-token").write_text(f"{OPS}\n")
    as_ops = ["--url", url, "--ca", str(cert), "--token-file", str(daemon.root / "ops-token")]

    made = apsis(*as_ops, "run", "hello", "--at", "+1d", "--json").json()["runs"][0]["run_id"]
    listed = apsis("runs", "--json", env={"APSIS_URL": url, "APSIS_CA": str(cert), "APSIS_TOKEN": VIEWER})
    assert [run["run_id"] for run in listed.json()["runs"]] == [made]
    refused = apsis("skip", made, env={"APSIS_URL": url, "APSIS_CA": str(cert), "APSIS_TOKEN": VIEWER})
    assert (refused.code, refused.err) == (2, "apsis: not allowed: token viewer may read, not operate (the right "
                                              "operate is held by tokens with the right operate or admin)\n")
    assert apsis(*as_ops, "skip", made).out == f"{made}: skipped\n"
    assert "skipped by token ops through the API" in apsis(*as_ops, "show", made).out

    anonymous = apsis("--url", url, "--ca", str(cert), "status")
    assert (anonymous.code, anonymous.err) == (
        2, "apsis: not allowed: this address needs a bearer token (Authorization: Bearer TOKEN)\n")
    unknown_ca = apsis("--url", url, "status", env={"APSIS_TOKEN": OPS})
    assert unknown_ca.code == 2 and unknown_ca.err.startswith(f"apsis: cannot talk to apsisd at {url}: TLS: ")
    assert unknown_ca.err.endswith("(give its CA with --ca FILE)\n")

    with Running(*as_ops, "watch", "--json") as watching:
        watching.wait_for('"event": "snapshot"')
        apsis(*as_ops, "run", "hello")
        watching.wait_for('"state": "success"')
    assert json.loads(watching.text().splitlines()[0])["event"] == "hello"
    waited = apsis(*as_ops, "run", "--wait", "hello")
    assert (waited.code, waited.out) == (0, "hello\n")

    await daemon.stop()
    await daemon.start(*daemon.config(f"""
        [api]
        listen = ["tcp:127.0.0.1:{plain}"]
        tokens = "{tokens}"
        """))
    on_loopback = apsis("--url", f"http://127.0.0.1:{plain}", "runs", "--job", "hello", "--json",
                        env={"APSIS_TOKEN": VIEWER})
    assert len(on_loopback.json()["runs"]) == 3
