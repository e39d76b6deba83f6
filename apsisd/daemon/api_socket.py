"""The API's Unix socket, born with the mode and group it keeps: who may connect at all is the kernel's check.

A socket file's mode is what the umask leaves of 0777 when it is bound, so
the umask is set around bind() to give the final mode at once: there is no
moment when the socket is open wider than it should be (a chmod after
bind leaves one). The mode follows [api] others: 0666 if others may read,
else 0660 for the operators' group ([api] group), else 0600 when that
group does not exist or apsisd (not root, not a member) cannot give the
socket to it. Members of [api] admin_group must be operators too to reach
it (a file has one group; the warning at start says so). Who may do what once connected is still decided per request
(api/access.py).

The umask is the process's, so it is changed only for the bind itself;
apsisd binds before it schedules anything, when no other thread makes files.
"""
from __future__ import annotations

import grp
import logging
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("apsisd.api")


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketAccess:
    """The socket's mode, and the group it is given (None: apsisd's own)."""

    mode: int
    gid: int | None


def socket_access(*, group: str | None, others_read: bool, admin_group: str | None = None) -> SocketAccess:
    """The mode and group the socket is bound with, for the operators' `group` (None: none) and `others_read`.

    A file has one group: the admins' (`admin_group`) reach the socket only if they are operators too.
    """
    if others_read:
        return SocketAccess(mode=0o666, gid=None)
    if group is None:  # a user's own apsisd, by default: theirs alone
        return SocketAccess(mode=0o600, gid=None)
    if admin_group is not None and admin_group != group:
        log.warning("API socket: it belongs to the group %s; members of the admins' group %s reach it only if they "
                    "are in %s too", group, admin_group, group, extra={"action": "api_group_admins"})
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        log.warning("API socket: the group %s does not exist; only root and apsisd's user may use the socket",
                    group, extra={"action": "api_group_missing"})
        return SocketAccess(mode=0o600, gid=None)
    if gid == os.getegid():
        return SocketAccess(mode=0o660, gid=None)
    if os.geteuid() != 0 and gid not in os.getgroups():
        log.warning("API socket: apsisd's user is not in the group %s and cannot give it the socket; only root "
                    "and apsisd's user may use the socket", group, extra={"action": "api_group_missing"})
        return SocketAccess(mode=0o600, gid=None)
    return SocketAccess(mode=0o660, gid=gid)


def bind_unix(path: Path, access: SocketAccess) -> socket.socket:
    """A stream socket bound at `path` with `access` (not yet listening); a stale socket file there is replaced
    (only a socket: never another kind of file). OSError if it cannot be bound."""
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o755)  # not the 0700 apsisd's umask leaves: the socket's own mode says who may connect
    if path.exists() and stat.S_ISSOCK(path.lstat().st_mode):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        umask = os.umask(0o777 & ~access.mode)
        try:
            sock.bind(str(path))
        finally:
            os.umask(umask)
        if access.gid is not None:
            os.chown(path, -1, access.gid)  # until then, its group is apsisd's: narrower, never wider
    except BaseException:
        sock.close()
        raise
    return sock
