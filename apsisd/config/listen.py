"""[api] listen: the addresses the API is served on, unix:PATH or tcp:HOST:PORT, checked as the kernel and the
resolver would take them; and whether a host is this machine's loopback (only there may a token go in clear)."""
from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

from apsisd.errors import invalid
from apsisd.fields import describe, each

LISTEN_HELP = "write unix:/PATH or tcp:HOST:PORT, such as unix:/run/apsis/api.sock or tcp:127.0.0.1:5050"
SOCKET_PATH_MAX = 107  # bytes in sockaddr_un.sun_path, less the final NUL
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*", re.ASCII)


def listen(value: Any, base: Path) -> tuple[str, ...]:
    """One address or a list of them, each unix:PATH (relative to `base`) or tcp:HOST:PORT."""
    if value == []:
        raise invalid(f"must name at least one address; {LISTEN_HELP}")
    return tuple(each(lambda item: _address(item, base))(value))


def loopback(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine's loopback: only then may a token go in clear."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def _address(value: Any, base: Path) -> str:
    if not isinstance(value, str):
        raise invalid(f"must be an address as a string; {LISTEN_HELP}, not {describe(value)}")
    scheme, _, rest = value.partition(":")
    if scheme == "unix" and rest:
        return f"unix:{_socket_path(rest, base)}"
    if scheme == "tcp" and rest:
        return f"tcp:{_host_port(rest)}"
    raise invalid(f"{value!r} is not an address; {LISTEN_HELP}")


def _socket_path(text: str, base: Path) -> Path:
    if text.startswith("@"):
        raise invalid(f"unix:{text}: abstract sockets are not supported; give the socket a path in a folder")
    path = base / text
    size = len(os.fsencode(path))
    if size > SOCKET_PATH_MAX:
        raise invalid(f"unix:{path}: the path is {size} bytes long, and a socket's may have at most "
                      f"{SOCKET_PATH_MAX}; choose a shorter one")
    return path


def _host_port(text: str) -> str:
    """HOST:PORT with HOST a name, an IPv4 address or a [bracketed] IPv6 address; PORT 1-65535."""
    host, colon, port = text.rpartition(":")
    if not colon or not (port.isascii() and port.isdigit() and len(port) <= 5) or not 1 <= int(port) <= 65535:
        raise invalid(f"tcp:{text}: give a port from 1 to 65535 after the host, as in tcp:127.0.0.1:5050")
    if host.startswith("[") and host.endswith("]"):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1])}]:{int(port)}"
        except ValueError:
            raise invalid(f"tcp:{text}: {host} is not an IPv6 address") from None
    if ":" in host:
        raise invalid(f"tcp:{text}: write an IPv6 address in brackets, as in tcp:[::1]:5050")
    if not _HOSTNAME.fullmatch(host):
        raise invalid(f"tcp:{text}: {host!r} is not a host name or an IP address")
    return f"{host}:{int(port)}"
