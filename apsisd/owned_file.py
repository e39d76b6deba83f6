"""Whether a file apsisd trusts (the tokens file, the TLS key) is safe from other users: who owns it, who may
write it, and for a secret, who may read it.

apsisd runs as root. Whoever may write the tokens file may give themselves
a token; whoever may read the TLS key may pose as apsisd to its callers. So
such a file must belong to root or to apsisd's own user (no one else can
change its mode back and forth), and no one else may write it; a secret
may not be read by others either (a group may read it, as `ssl-cert` reads
keys on Debian). The check is made on the file opened (fstat), not on its
name, so the file checked is the file read.
"""
from __future__ import annotations

import os
import stat

_WRITE = stat.S_IWGRP | stat.S_IWOTH


def ownership_problem(path: object, info: os.stat_result, what: str, *, secret: bool, euid: int) -> str | None:
    """What is wrong with the owner or mode of the file at `path` (`what` it is, `info` its fstat), as
    `PATH: what is wrong; the command that fixes it`; None if nothing is.

    `euid`: apsisd's user, who may own the file as root may; `secret`: others may not read it either.
    """
    mode = stat.S_IMODE(info.st_mode)
    owners = "root" if euid == 0 else f"root or uid {euid} (apsisd's user)"
    if info.st_uid not in (0, euid):
        return (f"{path}: {what} is owned by uid {info.st_uid}, who could change it at will; it must belong to "
                f"{owners}: chown root {path}")
    if mode & _WRITE:
        return (f"{path}: {what} (mode {mode:04o}) may be written by "
                f"{'anyone' if mode & stat.S_IWOTH else 'its group'}; only its owner may write it: chmod go-w {path}")
    if secret and mode & stat.S_IROTH:
        return f"{path}: {what} (mode {mode:04o}) may be read by anyone; it is a secret: chmod o-rwx {path}"
    return None
