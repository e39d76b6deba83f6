"""A job as loaded from its file, and the set of jobs (with their calendars) a folder holds.

Conditions and actions are kept as the plain data of the file here (each a
mapping with a `type`); their types are checked by their own registries
when the daemon binds them.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from apsisd.calendars.calendar import Calendar
from apsisd.jobs.program import Program
from apsisd.schedules.base import EMPTY, Due, Schedule
from apsisd.types import JobId


@dataclass(frozen=True, slots=True, kw_only=True)
class Metadata:
    """What a job says about itself: a Markdown description, labels, and any other keys as written."""

    description: str = ""
    labels: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


NO_METADATA = Metadata()


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One job file, checked: its runs' params, when they are due, and what they run.

    `actions` includes the `successors` shorthand, expanded to `schedule`
    actions on success.
    """

    id: JobId
    params: tuple[str, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    program: Program
    conditions: tuple[Mapping[str, Any], ...] = ()
    actions: tuple[Mapping[str, Any], ...] = ()
    metadata: Metadata = NO_METADATA

    def times(self, start: datetime) -> Iterator[Due]:
        """Every run due at or after `start` from the enabled schedules, in time order, args cut to the params.

        Two schedules due at the same instant give two runs, as in Apsis.
        Unbounded unless every schedule is finite: callers stop it.
        """
        sources = [schedule.times(start) for schedule in self.schedules if schedule.enabled]
        if not sources:
            return
        merged = sources[0] if len(sources) == 1 else heapq.merge(*sources, key=lambda due: due.time)
        for due in merged:
            yield self._cut(due)

    def due_between(self, start: datetime, stop: datetime) -> list[Due]:
        """The runs of times() in [start, stop): what the scheduler creates up to its horizon.

        The same as cutting times() at `stop`, one generator fewer per run:
        a horizon over 100,000 jobs is millions of runs.
        """
        found: list[Due] = []
        for schedule in self.schedules:
            if not schedule.enabled:
                continue
            for due in schedule.times(start):
                if due.time >= stop:
                    break
                found.append(self._cut(due))
        if len(self.schedules) > 1:
            found.sort(key=lambda due: due.time)  # stable: equal instants keep the schedules' order
        return found

    def _cut(self, due: Due) -> Due:
        """The Due with only the args the job declares (every enabled schedule gives each: checked at load)."""
        if not self.params:
            return Due(due.time, EMPTY, due.stop)  # the args are made lazily: never reading them is free
        args = due.args
        return Due(due.time, {name: args[name] for name in self.params}, due.stop)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSet:
    """Every job of a folder by id, and the named calendars they were checked against."""

    jobs: Mapping[JobId, Job]
    calendars: Mapping[str, Calendar]
