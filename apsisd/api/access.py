"""Who is calling and what they may do: on a Unix socket, the peer's credentials (SO_PEERCRED: the kernel's
word, not the caller's); over TCP, a bearer token.

Three rights (rights.py), each including the ones below it. Reading is looking (GET,
HEAD). Operating is every other method on what the jobs folder defines:
runs of loaded jobs (create, start now, stop, signal, skip, rerun, mark)
and reload; it runs the jobs' programs as the users their files name.
Admin adds what no job file defines: ad hoc runs of a program of the
caller's own, as any user and group; it is root's power when apsisd runs
as root. On the socket, root and the user apsisd runs as are admins, the
members of `[api] admin_group` (none by default) too; the members of the
operators' group (default `apsis`) may operate, and their own ad hoc runs
run as themselves (api/adhoc.py); anyone else may read only if
`others = "read"`, and is refused otherwise. Over TCP, the token's line in
the tokens file gives its right (api/tokens.py), sent as a bearer token or
signed in to the web page (api/session_cookie.py); a request with neither
is refused before any route runs, whatever its method, but for the few
paths the sign-in page needs (PUBLIC). Signing out needs a session, not a
right.
"""
from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from dataclasses import dataclass

from aiohttp import web

from apsisd.api.keys import request_key
from apsisd.rights import Right

_CREDENTIALS = struct.Struct("3i")  # pid, uid, gid
READING = frozenset({"GET", "HEAD"})
PUBLIC = frozenset({"/login", "/favicon.svg"})  # open to anyone (with PUBLIC_UNDER): the sign-in page and its files
PUBLIC_UNDER = "/static/"
SIGN_OUT = "/logout"
MACHINES = ("/api/", "/metrics")  # what programs ask for (JSON, metrics), not pages: refused, never sent to sign in


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
    caller: Caller | None = None  # a socket caller's credentials; None over TCP


PRINCIPAL = request_key("apsis.principal", Principal)  # its Principal, set before any route runs


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """`group`: the operators' group (None: none); `admin_group`: the admins' group (None: only root and apsisd's user);
    `others_read`: whether anyone else on the socket may read; `adhoc_users`: the only users ad hoc runs may run
    as (None: any the caller's right allows)."""

    group: str | None = "apsis"
    admin_group: str | None = None
    others_read: bool = False
    adhoc_users: frozenset[str] | None = None

    def right_of(self, caller: Caller) -> Right:
        if caller.uid in (0, os.geteuid()) or (self.admin_group and _in_group(caller, self.admin_group)):
            return Right.ADMIN
        if self.group and _in_group(caller, self.group):
            return Right.OPERATE
        return Right.READ if self.others_read else Right.NONE

    def holders(self, right: Right, *, socket: bool) -> str:
        """Who has `right` (or a higher one), in words for a refusal: on the socket, or over TCP."""
        if not socket:
            return "tokens with the right " + " or ".join(held.word for held in Right if held >= right)
        groups = [group for group in dict.fromkeys((self.group if right <= Right.OPERATE else "", self.admin_group))
                  if group]
        named = f"root, apsisd's user and the group{'s' if len(groups) > 1 else ''} {' and '.join(groups)}" \
            if groups else "root and apsisd's user"
        if right is Right.ADMIN and self.admin_group is None:
            named += " ([api] admin_group is not set)"
        if right is Right.READ:  # asked of a caller with no right: others may not read
            named += ' (and anyone, with [api] others = "read")'
        return named


def public(path: str) -> bool:
    """Whether anyone may ask for `path`, without a token or a session."""
    return path in PUBLIC or path.startswith(PUBLIC_UNDER)


def page(path: str) -> bool:
    """Whether `path` is the web page's (a caller without credentials is sent to sign in), not the API's."""
    return not any(path == prefix.rstrip("/") or path.startswith(prefix) for prefix in MACHINES)


def needed(method: str, path: str) -> Right:
    """The right a request needs: none for PUBLIC, read to look (and to sign out), operate for anything else."""
    if public(path):
        return Right.NONE
    return Right.READ if method in READING or path == SIGN_OUT else Right.OPERATE


def peer(sock: socket.socket | None) -> Caller | None:
    """The process at the other end of a Unix socket; None for any other transport."""
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    pid, uid, gid = _CREDENTIALS.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
    return Caller(pid=pid, uid=uid, gid=gid)


def socket_principal(caller: Caller, policy: Policy) -> Principal:
    return Principal(name=f"uid {caller.uid} (pid {caller.pid})", right=policy.right_of(caller), caller=caller)


def refusal(principal: Principal, needed: Right, policy: Policy, what: str | None = None) -> str:
    """Why `principal` may not do `what` (default: the right's own word), and who may: a 403's message."""
    holders = policy.holders(needed, socket=principal.caller is not None)
    if principal.right is Right.NONE:
        return f"not allowed: the API answers {holders}"
    return (f"not allowed: {principal.name} may {principal.right.word}, not {what or needed.word} (the right "
            f"{needed.word} is held by {holders})")


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
