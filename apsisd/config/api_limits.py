"""How much of apsisd the API's callers may hold ([api] in apsisd.toml): connections, streams, and how long a
connection may sit idle or take to send its request.

A caller is a user on the socket (by SO_PEERCRED's uid) and an address on TCP (connections; the token is not known
before the request is read) or a token (streams). Root and the user apsisd runs as are held to none of these on
the socket: they can stop apsisd anyway, and `apsis` as root must get through whatever others hold. A setting of
the configuration, so below the API, the daemon and the CLI that read it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiLimits:
    """`max_connections_per_caller` and `max_connections` (all callers together) are counted at accept; a
    connection over either is answered 429 (503 for the total) and closed, before any of its request is read.
    `max_streams_per_caller` and `max_streams` count the answers that last (the live stream, a run's output, followed or
    not): one more is answered 429 (503 for the total). `idle_timeout`: seconds a connection may wait between
    requests, and a client may take to accept a part of an answer, before it is closed; `request_timeout`:
    seconds a request may take to arrive whole, head and body, from its first byte (TLS handshake included)."""

    max_connections_per_caller: int = 64
    max_connections: int = 1024
    max_streams_per_caller: int = 16
    max_streams: int = 128
    idle_timeout: float = 30.0
    request_timeout: float = 10.0
