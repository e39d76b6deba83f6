"""Where apsisd answers: an address from --url or $APSIS_URL, else the socket its configuration names.

Three forms: `unix:/run/apsis/api.sock` (or just the socket's path),
`http://HOST:PORT` and `https://HOST:PORT`, the last two optionally with a
path before /api/v1 (apsisd behind a proxy).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from apsisd.config.listen import loopback
from apsisd.errors import ApsisError

URL_HELP = "write unix:/run/apsis/api.sock, http://HOST:PORT or https://HOST:PORT"
SYSTEM_RUN = Path("/run/apsis")  # the system apsisd's sockets live here; a user's apsisd's elsewhere


class BadAddress(ApsisError):
    """--url or $APSIS_URL is not an address apsis can talk to."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """A Unix socket (`socket`), or an HTTP(S) `host` and `port` with a `prefix` before /api/v1."""

    scheme: str  # unix, http or https
    socket: Path | None = None
    host: str = ""
    port: int | None = None
    prefix: str = ""

    def __str__(self) -> str:
        if self.socket is not None:
            return f"unix:{self.socket}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.prefix}"

    @property
    def in_clear_off_host(self) -> bool:
        """Plain HTTP to another machine: what is sent may be read (and a token used) by anyone on the way."""
        return self.scheme == "http" and not loopback(self.host)

    @property
    def start_hint(self) -> str:
        """How to start the apsisd that should be listening here."""
        if self.socket is None:
            return "is apsisd running there, and listening on TCP?"
        user = "" if self.socket.is_relative_to(SYSTEM_RUN) else "--user "
        return f"start it: systemctl {user}start apsisd"


def parse_url(text: str) -> Address:
    """An Address from what an operator wrote; BadAddress saying what is allowed otherwise."""
    text = text.strip()
    if text.startswith("/"):
        return Address(scheme="unix", socket=Path(text))
    if text.startswith("unix:"):
        path = text.removeprefix("unix:").removeprefix("//")
        if not path.startswith("/"):
            raise BadAddress(f"{text!r}: a socket's path must be absolute; {URL_HELP}")
        return Address(scheme="unix", socket=Path(path))
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadAddress(f"{text!r} is not an address; {URL_HELP}")
    if parts.query or parts.fragment or parts.username:
        raise BadAddress(f"{text!r}: an address has no query, fragment or user; {URL_HELP}")
    try:
        port = parts.port
    except ValueError:
        raise BadAddress(f"{text!r}: the port must be a number from 1 to 65535") from None
    return Address(scheme=parts.scheme, host=parts.hostname, port=port, prefix=parts.path.rstrip("/"))


def default_address(sockets: Sequence[Path], exists: Callable[[Path], bool] = os.path.exists) -> Address:
    """The first of `sockets` (api_sockets(): best first) that exists; the last when none does (the one named when
    saying apsisd is not running)."""
    chosen = next((path for path in sockets if exists(path)), sockets[-1])
    return Address(scheme="unix", socket=chosen)
