"""As whom an ad hoc run runs: admins choose; a socket operator's run is their own; a token that operates makes none;
`[api] adhoc_users` binds everyone. Uses the system's own accounts: root (0), daemon (1), nobody (65534, nogroup)."""
from __future__ import annotations

import os

import pytest

from agentd.spec import RunSpec
from agentd.types import RunId
from apsisd.api.access import Caller, Policy, Principal
from apsisd.api.adhoc import NotAllowed, rule
from apsisd.rights import Right

NOBODY = Caller(pid=7, uid=65534, gid=65534)
OPERATOR = Principal(name="uid 65534 (pid 7)", right=Right.OPERATE, caller=NOBODY)
ADMIN = Principal(name="uid 0 (pid 8)", right=Right.ADMIN, caller=Caller(pid=8, uid=0, gid=0))
SPEC = RunSpec(run_id=RunId("r1"), shell="id")


def spec(**fields: object) -> RunSpec:
    return RunSpec(run_id=RunId("r1"), shell="id", **fields)  # type: ignore[arg-type]


def test_an_admin_runs_as_whom_they_name() -> None:
    vet = rule(ADMIN, Policy())
    assert vet(spec(user="root", group="0")) == spec(user="root", group="0")
    assert vet(SPEC) == SPEC  # apsisd's own user
    token = Principal(name="token deploy", right=Right.ADMIN)
    assert rule(token, Policy())(spec(user="daemon")) == spec(user="daemon")


def test_a_socket_operator_s_run_is_their_own_whatever_it_names() -> None:
    vet = rule(OPERATOR, Policy())
    for own in (SPEC, spec(user="nobody"), spec(user="65534", group="nogroup"), spec(group="65534")):
        assert vet(own) == spec(user="65534", group="65534"), own
    assert vet(spec(nice=5)) == spec(user="65534", group="65534", nice=5)


@pytest.mark.parametrize(("fields", "what"), [
    ({"user": "root"}, "run an ad hoc program as user root"),
    ({"user": "0"}, "run an ad hoc program as user 0"),
    ({"user": "00"}, "run an ad hoc program as user 00"),
    ({"user": "no-such-user"}, "run an ad hoc program as user no-such-user"),
    ({"user": "nobody", "group": "root"}, "run an ad hoc program as group root"),
    ({"group": "daemon"}, "run an ad hoc program as group daemon"),
    ({"nice": -1}, "raise an ad hoc run's priority (limits.nice below 0)"),
])
def test_a_socket_operator_may_not_name_another_user_group_or_priority(fields: dict[str, object], what: str) -> None:
    with pytest.raises(NotAllowed) as caught:
        rule(OPERATOR, Policy(group="ops"))(spec(**fields))
    assert str(caught.value) == (
        f"not allowed: uid 65534 (pid 7) may operate, not {what} (the right admin is held by root and apsisd's user "
        "([api] admin_group is not set)); without it, an ad hoc run runs as its caller: uid 65534, gid 65534")
    with pytest.raises(NotAllowed, match=r"held by root, apsisd's user and the group wheel\); without it"):
        rule(OPERATOR, Policy(group="ops", admin_group="wheel"))(spec(**fields))


def test_a_token_that_operates_makes_no_ad_hoc_run() -> None:
    with pytest.raises(NotAllowed) as caught:
        rule(Principal(name="token ci", right=Right.OPERATE), Policy())
    assert str(caught.value) == ("not allowed: token ci may operate, not run ad hoc programs (the right admin is "
                                 "held by tokens with the right admin)")


def test_adhoc_users_binds_admins_and_operators_alike() -> None:
    policy = Policy(adhoc_users=frozenset({"daemon", "nobody"}))
    admin = rule(ADMIN, policy)
    assert admin(spec(user="1")) == spec(user="daemon")  # by name: what the list says is what systemd gets
    assert admin(spec(user="daemon", group="1")) == spec(user="daemon", group="daemon")
    assert rule(OPERATOR, policy)(SPEC) == spec(user="nobody", group="nogroup")
    own = os.geteuid()
    for fields, named in (({"user": "root"}, "root"), ({"user": "0"}, "root"), ({"user": "+1"}, "+1"),
                          ({}, f"{'root' if own == 0 else own} (apsisd's own user, for a program that names none)")):
        with pytest.raises(NotAllowed) as caught:
            admin(spec(**fields))
        assert str(caught.value) == ("not allowed: ad hoc runs may run only as the users [api] adhoc_users lists "
                                     f"(daemon, nobody), not as {named}; give the program a user: of the list")
    with pytest.raises(NotAllowed) as caught:
        admin(spec(user="daemon", group="root"))
    assert str(caught.value) == ("not allowed: with [api] adhoc_users set, an ad hoc run as daemon may have only a "
                                 "group daemon is in, not root; leave group: out for theirs")
    with pytest.raises(NotAllowed, match=r"lists \(daemon\), not as nobody;"):
        rule(OPERATOR, Policy(adhoc_users=frozenset({"daemon"})))(SPEC)
