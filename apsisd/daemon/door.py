"""Who comes in, decided at accept from the socket alone, before a byte of a request is read.

On the Unix socket the kernel says who the peer is (SO_PEERCRED): a user with no right at all is answered 403 and
closed at once, and each user may hold [api] max_connections_per_caller connections. Over TCP the token is not
known until a request is read, so the cap is per remote address (all the loopback is one, IPv6 by /64). Every
caller together may hold max_connections. Root and apsisd's own user are neither refused nor counted: root's
`apsis` gets through however many connections others hold.
"""
from __future__ import annotations

import collections
import ipaddress
import os
import socket
from dataclasses import dataclass

from apsisd.api.access import Policy, peer, refusal, socket_principal
from apsisd.config.api_limits import ApiLimits
from apsisd.rights import Right


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """A connection turned away: the HTTP status and the JSON error it is answered with."""

    status: int
    reason: str
    message: str


class Door:
    def __init__(self, policy: Policy, limits: ApiLimits) -> None:
        self.policy = policy
        self.limits = limits
        self._held: collections.Counter[str] = collections.Counter()

    def enter(self, sock: socket.socket) -> Refused | str | None:
        """The caller a new connection is counted as (None: root or apsisd's user, not counted), or why it is
        refused; the caller must `leave` once the connection ends."""
        caller = peer(sock)
        if caller is not None:
            if caller.uid in (0, os.geteuid()):
                return None
            principal = socket_principal(caller, self.policy)
            if principal.right is Right.NONE:
                return Refused(status=403, reason="Forbidden", message=refusal(principal, Right.READ, self.policy))
            key = f"uid {caller.uid}"
        else:
            key = f"address {_address(sock)}"
        held, total = self._held[key], self._held.total()
        if held >= self.limits.max_connections_per_caller:
            return Refused(status=429, reason="Too Many Requests", message=(
                f"{key} holds {held} connections to apsisd's API, as many as [api] max_connections_per_caller "
                "allows; close some and try again"))
        if total >= self.limits.max_connections:
            return Refused(status=503, reason="Service Unavailable", message=(
                f"apsisd's API holds {total} connections, as many as [api] max_connections allows; try again later"))
        self._held[key] += 1
        return key

    def leave(self, key: str | None) -> None:
        if key is None:
            return
        self._held[key] -= 1
        if not self._held[key]:
            del self._held[key]

    def held(self) -> int:
        """Connections counted now (root's and apsisd's user's are not)."""
        return self._held.total()


def _address(sock: socket.socket) -> str:
    try:
        return caller_address(str(sock.getpeername()[0]))
    except OSError:
        return "unknown"  # gone already: counted under one name until it is closed


def caller_address(address: str) -> str:
    """The address a TCP caller is counted by: any loopback address is one caller (a local user may bind any
    of 127.0.0.0/8), an IPv6 address its /64 (what one site is given), an IPv4-mapped one its IPv4."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
