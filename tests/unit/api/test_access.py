"""Rights on the socket by the caller's uid and group, and refusals that say which right is needed and who has it.
Uses the system's own accounts: root (0), daemon (1, group daemon), nobody (65534, group nogroup)."""
from __future__ import annotations

from apsisd.api.access import Caller, Policy, Principal, refusal
from apsisd.rights import Right


def test_rights_on_the_socket() -> None:
    root, daemon, nobody = Caller(pid=1, uid=0, gid=0), Caller(pid=2, uid=1, gid=1), Caller(pid=3, uid=65534, gid=65534)
    policy = Policy(group="nogroup", admin_group="daemon")
    assert [policy.right_of(caller) for caller in (root, daemon, nobody)] == [Right.ADMIN, Right.ADMIN, Right.OPERATE]
    assert Policy(group="nogroup").right_of(daemon) is Right.NONE  # no admin group by default
    assert Policy(group="daemon").right_of(nobody) is Right.NONE
    assert Policy(group="daemon", others_read=True).right_of(nobody) is Right.READ
    assert Policy(group="no-such-group", admin_group="no-such-group").right_of(nobody) is Right.NONE
    # No operators' group (a user's own apsisd): nobody but root and apsisd's user.
    assert [Policy(group=None).right_of(caller) for caller in (root, daemon, nobody)] == [
        Right.ADMIN, Right.NONE, Right.NONE]
    assert [right.word for right in Right] == ["none", "read", "operate", "admin"]


def test_refusals_name_the_right_needed_and_its_holders() -> None:
    policy = Policy(group="ops")
    caller = Caller(pid=9, uid=65534, gid=65534)
    reader = Principal(name="uid 65534 (pid 9)", right=Right.READ, caller=caller)
    assert refusal(reader, Right.OPERATE, policy) == (
        "not allowed: uid 65534 (pid 9) may read, not operate (the right operate is held by root, apsisd's user and "
        "the group ops)")
    assert refusal(reader, Right.OPERATE, Policy(group="ops", admin_group="wheel")) == (
        "not allowed: uid 65534 (pid 9) may read, not operate (the right operate is held by root, apsisd's user and "
        "the groups ops and wheel)")
    assert refusal(Principal(name="uid 65534 (pid 9)", right=Right.NONE, caller=caller), Right.READ, policy) == (
        "not allowed: the API answers root, apsisd's user and the group ops (and anyone, with [api] others = "
        '"read")')
    token = Principal(name="token viewer", right=Right.READ)
    assert refusal(token, Right.OPERATE, policy) == (
        "not allowed: token viewer may read, not operate (the right operate is held by tokens with the right operate "
        "or admin)")
