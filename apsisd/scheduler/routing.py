"""Which host a run goes to: a host's name stands for itself, a group's for one of its hosts, picked when the run
is bound (round-robin, each group its own turn, kept in memory; or at random); and the Host each name stands for.

The picked host is recorded on the run with `starting`, before the host is asked anything (driver.py): from then
on the run belongs to that host whatever happens to the group, and everything that talks to the run (events,
stop, kill, output, a restart's recovery) asks host_of(run). A run whose host is no longer configured has no
Host: it is never started elsewhere (its unit may be running there still); HostGone says why.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from agentd.host import Host, Linked
from apsisd.errors import ApsisError
from apsisd.jobs.hosts import LOCAL, HostGroup, Pick, unknown_host
from apsisd.runs.model import Run

Choose = Callable[[Sequence[str]], str]  # one of the names given: random.choice, or a test's own


class HostGone(ApsisError):
    """A run's host (or the group it was to go to) is not in apsisd.toml: its run waits for it to be back."""

    def __init__(self, name: str) -> None:
        super().__init__(f"its host {name!r} is not in apsisd.toml any more: the run waits for it (it is never "
                         f"started elsewhere: it may be running there still); add [hosts.{name}] back and restart "
                         "apsisd, or mark the run")
        self.name = name


class Router:
    """`hosts`: the Host of each configured name (`local` among them); `groups`: the host groups by name."""

    def __init__(self, hosts: Mapping[str, Host], groups: Mapping[str, HostGroup] = MappingProxyType({}),
                 choose: Choose = random.choice) -> None:
        self.hosts = hosts
        self.groups = groups
        self._choose = choose
        self._turns: dict[str, int] = {}  # a round-robin group's next member, by group

    def names(self) -> frozenset[str]:
        """What a run may be asked to go to: every host and every group."""
        return frozenset((*self.hosts, *self.groups))

    def unknown(self, name: str) -> str | None:
        """Why `name` cannot be a new run's host (an ad hoc run's), or None if it can."""
        return unknown_host(name, self.names())

    def target(self, run: Run, job_host: str | None) -> str:
        """The host or group a run not yet bound is to go to: the one it was asked to (an ad hoc run's), else its
        job's, else local."""
        return run.host or job_host or LOCAL

    def pick(self, name: str) -> str | None:
        """The host a run bound now to `name` goes to: `name` if a host, one of its members if a group; None if
        `name` is neither (no longer configured)."""
        group = self.groups.get(name)
        if group is None:
            return name if name in self.hosts else None
        members = group.hosts
        if group.pick is Pick.RANDOM:
            return self._choose([member for member in members if self._reachable(member)] or members)
        turn = self._turns.get(name, 0)
        # The next reachable member in turn: a run sent to a host known to be unreachable would wait for it, then
        # fail to start. With none reachable, the next in turn (it may be back by the time the run is started).
        step = next((k for k in range(len(members)) if self._reachable(members[(turn + k) % len(members)])), 0)
        self._turns[name] = (turn + step + 1) % len(members)
        return members[(turn + step) % len(members)]

    def _reachable(self, name: str) -> bool:
        """Not known to be unreachable: a host being linked for the first time (apsisd just started) is given the
        benefit of the doubt."""
        if not isinstance(host := self.hosts.get(name), Linked):
            return True
        status = host.link_status()
        return status.reachable or not status.tried

    def host_of(self, run: Run) -> Host:
        """The Host the run runs on (a run recorded before hosts were: local); HostGone if it is not configured."""
        name = run.host or LOCAL
        host = self.hosts.get(name)
        if host is None:
            raise HostGone(name)
        return host
