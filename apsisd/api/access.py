"""Who is calling and what they may do: on a Unix socket, the peer's credentials (SO_PEERCRED: the kernel's
word, not the caller's); over TCP, a bearer token.

Reading is looking (GET); operating is every other method (creating,
stopping, marking runs, reloading). On the socket, root, the user apsisd
runs as and the members of the operators' group (default `apsis`) may
operate; anyone else may read only if `others = "read"`, and is refused
otherwise. Over TCP, the token's line in the tokens file gives its right
(api/tokens.py); a request without a valid token is refused before any
route runs, whatever its method.
"""
from __future__ import annotations

import enum
import grp
import os
import pwd
import socket
import struct
from dataclasses import dataclass

from aiohttp import web

_CREDENTIALS = struct.Struct("3i")  # pid, uid, gid
PRINCIPAL = "apsis.principal"  # the request's key for its Principal, set before any route runs


class Right(enum.IntEnum):
    """What a caller may do; each includes the ones below it."""

    NONE = 0
    READ = 1
    OPERATE = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """A process at the other end of the Unix socket."""

    pid: int
    uid: int
    gid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who a request comes from, as the run logs name them, and what they may do."""

    name: str
    right: Right


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """`group`: the operators' group; `others_read`: whether anyone else on the socket may read."""

    group: str = "apsis"
    others_read: bool = False

    def right_of(self, caller: Caller) -> Right:
        if caller.uid in (0, os.geteuid()) or _in_group(caller, self.group):
            return Right.OPERATE
        return Right.READ if self.others_read else Right.NONE


def peer(sock: socket.socket | None) -> Caller | None:
    """The process at the other end of a Unix socket; None for any other transport."""
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    pid, uid, gid = _CREDENTIALS.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
    return Caller(pid=pid, uid=uid, gid=gid)


def socket_principal(caller: Caller, policy: Policy) -> Principal:
    return Principal(name=f"uid {caller.uid} (pid {caller.pid})", right=policy.right_of(caller))


def _in_group(caller: Caller, group: str) -> bool:
    """A member of `group` by primary group or by membership."""
    try:
        members = grp.getgrnam(group)
    except KeyError:
        return False
    if caller.gid == members.gr_gid:
        return True
    try:
        name = pwd.getpwuid(caller.uid).pw_name
    except KeyError:
        return False
    return name in members.gr_mem


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header (the scheme in any case); None for any other."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token and " " not in token else None


def principal_of(request: web.Request) -> Principal:
    """Who made the request (the access check set it before any route ran)."""
    principal: Principal = request[PRINCIPAL]
    return principal


def who(request: web.Request) -> str:
    """The caller as a run's log names them: 'uid 1000 (pid 42) through the API'."""
    return f"{principal_of(request).name} through the API"
