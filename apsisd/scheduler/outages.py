"""A host unreachable for longer than its `unreachable_after`: each of its runs under way says so in its log.

The runs go on on the host meanwhile (they are its systemd's units); apsis
invents no outcome, and starts no second copy of any. What the operator
needs is to see why a run has told nothing for a while: its log says since
when the host is unreachable and why, once per outage, and again when the
host is back (its real outcome is recorded then, from the host's journal).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

from agentd.host import Host
from apsisd.clock import Clock
from apsisd.runs.model import Run
from apsisd.runs.state import ON_HOST
from apsisd.scheduler.host_status import HostStatus, host_statuses
from apsisd.scheduler.ledger import Ledger
from apsisd.scheduler.records import Records

log = logging.getLogger("apsisd.scheduler")
LOOK_EVERY = 5.0  # seconds between looks at the hosts' links


class Outages:
    def __init__(self, hosts: Mapping[str, Host], unreachable_after: Mapping[str, float], records: Records,
                 clock: Clock) -> None:
        self._hosts = hosts
        self._after = unreachable_after
        self._records = records
        self._clock = clock
        self._told: dict[str, datetime] = {}  # host -> the start of the outage its runs were told of

    @property
    def _ledger(self) -> Ledger:
        return self._records.ledger

    async def run(self) -> None:
        while True:
            await self.look()
            await asyncio.sleep(LOOK_EVERY)

    async def look(self) -> None:
        """Tell the runs of each host whose outage has lasted its unreachable_after, and of each host back."""
        runs = self._ledger.all()
        now = self._clock.now()
        for status in host_statuses(self._hosts, runs):
            if not status.remote or status.since is None:
                continue
            if not status.reachable and status.name not in self._told \
                    and (now - status.since).total_seconds() >= self._after.get(status.name, 0.0):
                self._told[status.name] = status.since
                await self._tell(status, _on(status, runs), f"host {status.name} unreachable since "
                                 f"{status.since:%Y-%m-%d %H:%M:%S} UTC ({status.problem}); the run goes on there, "
                                 f"and how it ends is recorded once the host is back")
            elif status.reachable and status.name in self._told:
                del self._told[status.name]
                await self._tell(status, _on(status, runs), f"host {status.name} reachable again")

    async def _tell(self, status: HostStatus, runs: list[Run], message: str) -> None:
        log.log(logging.INFO if status.reachable else logging.WARNING, "%s (%d runs under way there)", message,
                len(runs), extra={"action": "host_back" if status.reachable else "host_outage"})
        for run in runs:
            await self._records.note(run.id, message)


def _on(status: HostStatus, runs: list[Run]) -> list[Run]:
    return [run for run in runs if run.host == status.name and run.state in ON_HOST]
