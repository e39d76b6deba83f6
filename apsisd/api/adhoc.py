"""As whom an ad hoc run runs: a program of the caller's own making gets only the user its caller's right allows.

No job file vouches for an ad hoc program, so running one as a user is
being that user. An admin (root, apsisd's user, `[api] admin_group`, an
admin token) may run one as any user and group. A socket caller who may
only operate gets theirs run as themselves, the uid and gid the kernel
gave for them (SO_PEERCRED), and is refused a user, a group or a raised
priority that is not theirs. A token stands for no user of this host, so
over TCP ad hoc runs need admin. `[api] adhoc_users`, when set, names the
only users any ad hoc run may run as, admins' included; the user is the
one named, or apsisd's own when none is.

The rule applies to the run's spec as bound, the host's whole input: what
it lets through is what the unit runs as.
"""
from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Callable
from dataclasses import replace

from agentd.spec import RunSpec
from apsisd.api.access import Policy, Principal, refusal
from apsisd.errors import ApsisError
from apsisd.rights import Right

Vet = Callable[[RunSpec], RunSpec]  # an ad hoc run's spec as it may run, or NotAllowed


class NotAllowed(ApsisError):
    """The caller may not make this ad hoc run; the message says why, and what right or setting it needs."""


def rule(principal: Principal, policy: Policy) -> Vet:
    """What an ad hoc run's spec becomes for this caller; NotAllowed now if they may make none."""
    if principal.right >= Right.ADMIN:
        return lambda spec: _listed(spec, policy.adhoc_users)
    caller = principal.caller
    if caller is None or principal.right < Right.OPERATE:
        raise NotAllowed(refusal(principal, Right.ADMIN, policy, "run ad hoc programs"))

    def as_caller(spec: RunSpec) -> RunSpec:
        theirs = f"; without it, an ad hoc run runs as its caller: uid {caller.uid}, gid {caller.gid}"
        for field, given, own in (("user", spec.user, caller.uid), ("group", spec.group, caller.gid)):
            if given is not None and _id(field, given) != own:
                raise NotAllowed(refusal(principal, Right.ADMIN, policy,
                                         f"run an ad hoc program as {field} {given}") + theirs)
        if spec.nice is not None and spec.nice < 0:
            raise NotAllowed(refusal(principal, Right.ADMIN, policy, "raise an ad hoc run's priority (limits.nice "
                                                                      "below 0)") + theirs)
        return _listed(replace(spec, user=str(caller.uid), group=str(caller.gid)), policy.adhoc_users)

    return as_caller


def _id(field: str, name: str) -> int | None:
    """The uid (or gid, for `field` group) that systemd's User= (Group=) would take `name` for; None if none."""
    if name.isascii() and name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid if field == "user" else grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _listed(spec: RunSpec, users: frozenset[str] | None) -> RunSpec:
    """`spec` with its user and group by name, if they are of the `[api] adhoc_users` (None: anyone as given)."""
    if users is None:
        return spec
    listed = ", ".join(sorted(users)) or "none"
    user = _account(spec.user)
    if user is None or user.pw_name not in users:
        name = user.pw_name if user else spec.user or os.geteuid()
        named = name if spec.user is not None else f"{name} (apsisd's own user, for a program that names none)"
        raise NotAllowed(f"not allowed: ad hoc runs may run only as the users [api] adhoc_users lists ({listed}), "
                         f"not as {named}; give the program a user: of the list")
    if spec.group is None:
        return replace(spec, user=user.pw_name)
    group = _group(spec.group)
    if group is None or (group.gr_gid != user.pw_gid and user.pw_name not in group.gr_mem):
        raise NotAllowed(f"not allowed: with [api] adhoc_users set, an ad hoc run as {user.pw_name} may have only "
                         f"a group {user.pw_name} is in, not {spec.group}; leave group: out for theirs")
    return replace(spec, user=user.pw_name, group=group.gr_name)


def _account(user: str | None) -> pwd.struct_passwd | None:
    """The account a unit with User=`user` runs as (apsisd's own for None); None if this host has no such user."""
    try:
        if user is None or (user.isascii() and user.isdigit()):
            return pwd.getpwuid(os.geteuid() if user is None else int(user))
        return pwd.getpwnam(user)
    except (KeyError, OverflowError):
        return None


def _group(group: str) -> grp.struct_group | None:
    try:
        return grp.getgrgid(int(group)) if group.isascii() and group.isdigit() else grp.getgrnam(group)
    except (KeyError, OverflowError):
        return None

