"""Web origins (scheme://host[:port]) as browsers send them in an Origin header: read from [web] origin, and made
comparable (the host in lower case, the scheme's default port left out), so that the address a browser names and
the one apsisd computes are equal exactly when they are the same."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from apsisd.errors import invalid
from apsisd.fields import describe

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str | None:
    """`url`'s origin, as `scheme://host[:port]` in its one spelling; None when it is not an http(s) URL with a
    host (a browser's `Origin: null` among them)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None or parts.password is not None:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}")


def read_origin(value: Any) -> str:
    """[web] origin: `https://HOST[:PORT]`, nothing after it but an optional `/`."""
    found = origin(value) if isinstance(value, str) else None
    path = urlsplit(value).path if found else ""
    if found is None or path not in ("", "/") or "?" in value or "#" in value:
        raise invalid("must be the address browsers open the page at, scheme, host and port only, such as "
                      f'"https://apsis.example.com", not {describe(value)}')
    return found
