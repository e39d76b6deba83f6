"""Each host as an operator sees it: up or not, since when and why, who is at the other end, runs under way.

The local host is apsisd's own systemd, in-process: it is always there (its
bus reconnects by itself, and a run's calls wait for it). A remote host is
as its link says (agentd/remote/host.py).
"""
from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from agentd.host import Host, Linked
from apsisd.jobs.hosts import LOCAL
from apsisd.runs.model import Run
from apsisd.runs.state import ON_HOST

SKEW_WARNING = 2.0  # seconds of clock skew from which a host is reported by apsis check


@dataclass(frozen=True, slots=True, kw_only=True)
class HostStatus:
    name: str
    remote: bool
    reachable: bool
    since: datetime | None  # when `reachable` last changed (None: the local host, always reachable)
    problem: str | None  # why it is unreachable
    agentd: str | None  # agentd's version on it, as of its last hello
    hostname: str | None
    clock_skew: float | None  # seconds its clock is ahead of apsisd's, measured when linked
    runs_under_way: int  # runs recorded on it that are starting, running or stopping

    @property
    def skewed(self) -> bool:
        return self.clock_skew is not None and abs(self.clock_skew) >= SKEW_WARNING


def host_statuses(hosts: Mapping[str, Host], runs: Iterable[Run]) -> list[HostStatus]:
    """Every host, `local` first, then by name."""
    under_way = collections.Counter(run.host or LOCAL for run in runs if run.state in ON_HOST)
    found = []
    for name in sorted(hosts, key=lambda name: (name != LOCAL, name)):
        host = hosts[name]
        if isinstance(host, Linked):
            link = host.link_status()
            found.append(HostStatus(name=name, remote=True, reachable=link.reachable, since=link.since,
                                    problem=None if link.reachable else link.problem, agentd=link.agentd,
                                    hostname=link.hostname, clock_skew=link.clock_skew,
                                    runs_under_way=under_way[name]))
        else:
            found.append(HostStatus(name=name, remote=False, reachable=True, since=None, problem=None, agentd=None,
                                    hostname=None, clock_skew=None, runs_under_way=under_way[name]))
    return found
