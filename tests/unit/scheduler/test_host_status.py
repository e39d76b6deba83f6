"""Each host as an operator sees it (scheduler/host_status.py): local always there, remote as its link says."""
from __future__ import annotations

from datetime import UTC, datetime

from agentd.host import LinkStatus
from agentd.types import JobId, RunId
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.host_status import host_statuses
from tests.fakes.host import FakeHost

SINCE = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)


class LinkedFake(FakeHost):
    def __init__(self, status: LinkStatus) -> None:
        super().__init__()
        self.status = status

    def link_status(self) -> LinkStatus:
        return self.status


def a_run(number: int, state: State, host: str | None) -> Run:
    return Run(id=RunId(f"r{number}"), job_id=JobId("j"), state=state, schedule_time=SINCE, host=host)


def test_local_first_then_by_name_each_as_its_link_says_with_its_runs_under_way() -> None:
    up = LinkStatus(tried=True, reachable=True, since=SINCE, problem="", agentd="0.1.0", hostname="db1.example",
                    clock_skew=0.25)
    down = LinkStatus(tried=True, reachable=False, since=SINCE, problem="Host key verification failed", agentd="0.1.0",
                      hostname="db2.example", clock_skew=-1.0)
    hosts = {"db2": LinkedFake(down), "local": FakeHost(), "db1": LinkedFake(up)}
    runs = [a_run(1, State.RUNNING, "db1"), a_run(2, State.STARTING, "db1"), a_run(3, State.STOPPING, None),
            a_run(4, State.SUCCESS, "db1"), a_run(5, State.SCHEDULED, "db2"), a_run(6, State.RUNNING, "db2")]
    found = host_statuses(hosts, runs)  # type: ignore[arg-type]
    assert [(s.name, s.remote, s.reachable, s.runs_under_way) for s in found] == [
        ("local", False, True, 1), ("db1", True, True, 2), ("db2", True, False, 1)]
    local, db1, db2 = found
    assert local.since is None and local.clock_skew is None and local.problem is None
    assert (db1.agentd, db1.hostname, db1.clock_skew, db1.problem, db1.since) == (
        "0.1.0", "db1.example", 0.25, None, SINCE)
    assert db2.problem == "Host key verification failed" and not db2.skewed
    assert not db1.skewed
