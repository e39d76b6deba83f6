"""Who is calling, from the Unix socket's peer credentials (SO_PEERCRED): the kernel's word, not the caller's.

Reading is allowed to root, to the user apsisd runs as, and to the members
of the operators' group (default `apsis`); anyone else is refused. Operating
(changing runs) comes with the operations and keeps to the same rule.
"""
from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from dataclasses import dataclass

_CREDENTIALS = struct.Struct("3i")  # pid, uid, gid


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    pid: int
    uid: int
    gid: int


def peer(sock: socket.socket | None) -> Caller | None:
    """The process at the other end of a Unix socket; None for any other transport."""
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    pid, uid, gid = _CREDENTIALS.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
    return Caller(pid=pid, uid=uid, gid=gid)


def may_read(caller: Caller | None, group: str = "apsis") -> bool:
    """Root, apsisd's own user, or a member of `group` (by primary group or membership)."""
    if caller is None:
        return False
    if caller.uid in (0, os.geteuid()):
        return True
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
