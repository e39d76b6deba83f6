"""The checks of a run spec only this host can make: its program and its user exist here."""
from __future__ import annotations

import grp
import os
import pwd
import shutil

from agentd.errors import SpecError
from agentd.spec import RunSpec
from agentd.systemd.units import SYSTEMD_CAT


def resolve(spec: RunSpec, *, user_manager: bool) -> str:
    """argv[0] as an absolute path to an executable here; SpecError (nothing started) for what cannot run here."""
    program = spec.command()[0]
    field = "shell" if spec.shell is not None else "argv[0]"
    if "/" not in program:
        found = shutil.which(program)
        if found is None:
            raise SpecError(field, f"no program {program!r} in PATH; give an absolute path")
        program = found
    if not os.path.isabs(program):
        raise SpecError(field, f"{program!r} is relative; give an absolute path or a name in PATH")
    if not (os.path.isfile(program) and os.access(program, os.X_OK)):
        raise SpecError(field, f"{program} is not an executable file")
    if spec.split_output and not os.access(SYSTEMD_CAT, os.X_OK):
        raise SpecError("output.split", f"keeping stdout and stderr apart needs {SYSTEMD_CAT}, which this host "
                                        "does not have")
    if user_manager:
        me = pwd.getpwuid(os.getuid()).pw_name
        if spec.user not in (None, me, str(os.getuid())):
            raise SpecError("user", f"the user manager runs everything as {me}; "
                                    "run apsisd as root to switch users")
        if spec.group is not None:
            raise SpecError("group", "the user manager cannot switch groups; run apsisd as root")
        return program
    if spec.user is not None and not spec.user.isdigit():
        try:
            pwd.getpwnam(spec.user)
        except KeyError:
            raise SpecError("user", f"no user {spec.user!r} on this host") from None
    if spec.group is not None and not spec.group.isdigit():
        try:
            grp.getgrnam(spec.group)
        except KeyError:
            raise SpecError("group", f"no group {spec.group!r} on this host") from None
    return program


def uid_of(spec: RunSpec, *, user_manager: bool) -> int:
    """The uid the run's program runs as (checked to exist by resolve)."""
    if user_manager or spec.user is None:
        return os.geteuid()
    return int(spec.user) if spec.user.isdigit() else pwd.getpwnam(spec.user).pw_uid
