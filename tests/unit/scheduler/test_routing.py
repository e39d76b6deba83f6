"""Router: a host's name stands for itself, a group's for one of its hosts (round-robin, each group its own turn;
or as `choose` says); host_of a run is its recorded host's Host, never another."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agentd.host import Host, LinkStatus
from agentd.types import JobId, RunId
from apsisd.jobs.hosts import HostGroup, Pick
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler.routing import HostGone, Router

T0 = datetime(2026, 12, 1, tzinfo=UTC)
HOSTS: dict[str, Host] = {name: object() for name in ("local", "db1", "db2", "db3")}  # type: ignore[misc]
GROUPS = {"dbs": HostGroup(name="dbs", hosts=("db1", "db2", "db3")),
          "pair": HostGroup(name="pair", hosts=("db2", "local")),
          "any": HostGroup(name="any", hosts=("db1", "db3"), pick=Pick.RANDOM)}


def a_run(host: str | None = None, state: State = State.SCHEDULED) -> Run:
    return Run(id=RunId("r1"), job_id=JobId("j"), schedule_time=T0, state=state, host=host, origin=Origin.SCHEDULE)


def test_names_are_every_host_and_group() -> None:
    assert Router(HOSTS, GROUPS).names() == {"local", "db1", "db2", "db3", "dbs", "pair", "any"}


def test_a_host_stands_for_itself_and_an_unknown_name_for_none() -> None:
    router = Router(HOSTS, GROUPS)
    assert [router.pick(name) for name in ("local", "db2", "db2", "gone")] == ["local", "db2", "db2", None]


def test_round_robin_goes_through_the_members_in_order_each_group_its_own_turn() -> None:
    router = Router(HOSTS, GROUPS)
    picks = [router.pick(name) for name in ("dbs", "pair", "dbs", "dbs", "pair", "dbs", "pair")]
    assert picks == ["db1", "db2", "db2", "db3", "local", "db1", "db2"]


def test_random_picks_what_choose_says_among_the_members() -> None:
    asked: list[tuple[str, ...]] = []

    def choose(members: tuple[str, ...]) -> str:  # type: ignore[override]
        asked.append(tuple(members))
        return members[-1]

    router = Router(HOSTS, GROUPS, choose=choose)  # type: ignore[arg-type]
    assert [router.pick("any"), router.pick("any")] == ["db3", "db3"]
    assert asked == [("db1", "db3"), ("db1", "db3")]
    assert {Router(HOSTS, GROUPS).pick("any") for _ in range(200)} == {"db1", "db3"}  # random.choice: both come


def test_the_target_is_the_run_s_own_else_the_job_s_else_local() -> None:
    router = Router(HOSTS, GROUPS)
    assert router.target(a_run(host="pair"), "dbs") == "pair"  # an ad hoc run asked for it
    assert router.target(a_run(), "dbs") == "dbs"
    assert router.target(a_run(), None) == "local"


def test_host_of_is_the_recorded_host_and_never_another() -> None:
    router = Router(HOSTS, GROUPS)
    assert router.host_of(a_run(host="db2", state=State.RUNNING)) is HOSTS["db2"]
    assert router.host_of(a_run(state=State.RUNNING)) is HOSTS["local"]  # recorded before there were hosts
    with pytest.raises(HostGone, match=r"^its host 'db9' is not in apsisd.toml any more: the run waits for it \(it "
                                       r"is never started elsewhere: it may be running there still\); add \[hosts.db9\]"
                                       r" back and restart apsisd, or mark the run$"):
        router.host_of(a_run(host="db9", state=State.RUNNING))


def test_unknown_says_what_may_be_named() -> None:
    router = Router(HOSTS, {})
    assert router.unknown("db1") is None
    assert router.unknown("dbx") == ("no host or group 'dbx' in apsisd.toml; use one of: db1, db2, db3, local, or "
                                     "add [hosts.dbx] (or [host_groups.dbx]) to apsisd.toml and restart apsisd")


class Linked:
    """A remote host as its link says it is."""

    def __init__(self, reachable: bool) -> None:
        self.reachable = reachable

    def link_status(self) -> LinkStatus:
        return LinkStatus(tried=True, reachable=self.reachable, since=T0,
                          problem="" if self.reachable else "No route to host", agentd="0.1", hostname="h",
                          clock_skew=0.0)


def test_a_group_passes_over_members_known_unreachable_while_one_is_reachable() -> None:
    db1, db2, db3 = Linked(True), Linked(False), Linked(True)
    hosts: dict[str, Host] = {"local": object(), "db1": db1, "db2": db2, "db3": db3}  # type: ignore[dict-item]
    router = Router(hosts, GROUPS, choose=lambda members: members[0])  # type: ignore[arg-type, return-value]
    assert [router.pick("dbs") for _ in range(4)] == ["db1", "db3", "db1", "db3"]
    db1.reachable = db3.reachable = False
    assert [router.pick("dbs") for _ in range(3)] == ["db1", "db2", "db3"]  # none reachable: in turn, as ever
    db2.reachable = True
    assert [router.pick("dbs") for _ in range(2)] == ["db2", "db2"]
    assert router.pick("pair") == "db2"
    db1.reachable, db3.reachable = False, True
    assert router.pick("any") == "db3"  # random, among those reachable


def test_a_member_being_linked_for_the_first_time_is_not_passed_over() -> None:
    """apsisd has just started: its remote hosts are not yet linked, and not known to be down."""
    first = Linked(False)
    hosts: dict[str, Host] = {"local": object(), "db1": first,  # type: ignore[dict-item]
                              "db2": Linked(True), "db3": Linked(True)}
    first.link_status = lambda: LinkStatus(  # type: ignore[method-assign]
        tried=False, reachable=False, since=T0, problem="not connected yet", agentd=None, hostname=None,
        clock_skew=None)
    assert Router(hosts, GROUPS).pick("dbs") == "db1"
