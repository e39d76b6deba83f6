"""apsisd served over loopback TCP, as a browser reaches it: its base URL and a token of each right.

`served = await serve(daemon)` starts the Daemon with its API on the Unix socket (for the CLI and
tests/integration/api.py) and on plain HTTP at 127.0.0.1:PORT (loopback may go without TLS,
docs/api.md "Access"), with a tokens file of three tokens, `apsis token new`'s lines: `reader`
(read), `operator` (operate) and `admin` (admin). `serve(daemon, tls=True)`: HTTPS on that port
with a self-signed certificate for 127.0.0.1 (`served.ca`; a browser context takes it with
`ignore_https_errors=True`), for what only TLS does (Secure cookies).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from apsisd.rights import Right
from apsisd.tokens_file import new_token, token_line
from tests.integration.api import SOCKET
from tests.integration.daemon import Daemon
from tests.integration.test_api_access import free_port, openssl_cert


@dataclass(frozen=True, slots=True, kw_only=True)
class Served:
    """A running apsisd's TCP address and one token of each right."""

    url: str  # http://127.0.0.1:PORT, no trailing slash
    read: str
    operate: str
    admin: str
    tokens_file: Path
    ca: Path | None = None  # the certificate apsisd serves, under TLS

    def token(self, right: Right) -> str:
        return {Right.READ: self.read, Right.OPERATE: self.operate, Right.ADMIN: self.admin}[right]


async def serve(daemon: Daemon, *args: str, api: str = "", config: str = "", tls: bool = False) -> Served:
    """Start `daemon` (with `args`) serving its API on the socket and on loopback TCP, with three tokens.

    `api`: more lines for apsisd.toml's [api] table; `config`: more tables after it (each starting with its
    [header]), such as [web]; `tls`: HTTPS with a self-signed certificate."""
    read, operate, admin = new_token(), new_token(), new_token()
    tokens = daemon.root / "api-tokens"
    tokens.write_text("# name right hash\n" + "".join(
        f"{token_line(name, right, token)}\n"
        for name, right, token in (("reader", Right.READ, read), ("operator", Right.OPERATE, operate),
                                   ("admin", Right.ADMIN, admin))))
    tokens.chmod(0o600)
    port = free_port()
    toml = f'[api]\nlisten = ["unix:{SOCKET}", "tcp:127.0.0.1:{port}"]\ntokens = "{tokens}"\n'
    cert = None
    if tls:
        cert, key = openssl_cert(daemon.root)
        toml += f'tls_cert = "{cert}"\ntls_key = "{key}"\n'
    await daemon.start(*daemon.config(toml + textwrap.dedent(api) + "\n" + textwrap.dedent(config)), *args)
    return Served(url=f"{'https' if tls else 'http'}://127.0.0.1:{port}", read=read, operate=operate, admin=admin,
                  tokens_file=tokens, ca=cert)

