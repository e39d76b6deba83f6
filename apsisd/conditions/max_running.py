"""`max_running`: wait while `count` runs of a job are already on their host.

    condition:
      type: max_running
      count: 2            # default 1; may be a template ("{{ slots }}")
      job_id: etl/load    # default: this run's job
      args: same          # default; or `any`

A run counts while it is starting, running or stopping: a stopping run
still holds what it runs on until its unit is gone (Apsis did not count
it, so a slow stop let one more run in). `args: same` counts only the
runs with this run's args; for another job, the runs that agree with this
run on every param the two jobs share. `args: any` counts every run of
the job. The run itself never counts.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from agentd.types import JobId
from apsisd.calendars.calendar import Calendar
from apsisd.conditions.base import READY, Jobs, RunView, Verdict, Wait
from apsisd.errors import invalid
from apsisd.fields import Fields, bounded, describe
from apsisd.jobs.program import deferred
from apsisd.jobs.rendering import Renderer
from apsisd.jobs.target import instance, job_id_field
from apsisd.jobs.templates import Template
from apsisd.runs.model import Run
from apsisd.runs.state import ON_HOST


class Scope(enum.StrEnum):
    """Which runs of the job count."""

    SAME = "same"  # those with this run's args
    ANY = "any"  # all of them


def _count(value: Any) -> int:
    """A whole number of runs, at least 1; also its text (what a template renders)."""
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    text = bounded(value, "a count").strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit():
        number = int(text)
    if number is None or number < 1:
        raise invalid(f"must be a whole number of runs, at least 1, not {describe(value)}")
    return number


def _scope(value: Any) -> Scope:
    try:
        return Scope(value)
    except ValueError:
        raise invalid(f"must be same (runs with this run's args) or any (every run of the job), not "
                      f"{describe(value)}") from None


_COUNT = deferred(_count)


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxRunning:
    type_name: ClassVar[str] = "max_running"
    count: int | Template = 1
    job_id: str | None = None
    args: Scope = Scope.SAME

    @classmethod
    def parse(cls, fields: Fields) -> MaxRunning:
        parsed = cls(count=fields.take("count", _COUNT, 1), job_id=fields.take("job_id", job_id_field, None),
                     args=fields.take("args", _scope, Scope.SAME))
        fields.done()
        return parsed

    def bind(self, run: Run, jobs: Jobs, calendars: Mapping[str, Calendar]) -> BoundMaxRunning:
        renderer = Renderer(run, calendars)
        count = renderer.value(self.count, "count")
        job_id = run.job_id if self.job_id is None else JobId(renderer.text(self.job_id, "job_id"))
        renderer.done()
        if self.args is Scope.ANY:
            return BoundMaxRunning(job_id=job_id, count=count, match=None)
        if job_id == run.job_id:
            return BoundMaxRunning(job_id=job_id, count=count, match=tuple(run.args.items()))
        params = jobs.params_of(job_id)
        if params is None:
            raise invalid(f"unknown job {job_id!r}; no such job is loaded").under("job_id")
        shared = tuple((name, run.args[name]) for name in params if name in run.args)
        return BoundMaxRunning(job_id=job_id, count=count, match=shared)


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundMaxRunning:
    """`match`: the (name, value) pairs a run's args must hold to count; None: every run counts."""

    job_id: JobId
    count: int
    match: tuple[tuple[str, str], ...] | None

    def watches(self) -> frozenset[JobId]:
        return frozenset({self.job_id})

    def describe(self) -> str:
        which = f"{self.job_id} (any args)" if self.match is None else instance(self.job_id, dict(self.match))
        limit = "no other run" if self.count == 1 else f"fewer than {self.count} other runs"
        return f"{limit} of {which} starting, running or stopping"

    async def check(self, run: Run, view: RunView) -> Verdict:
        busy = sum(1 for other in view.active(self.job_id)
                   if other.state in ON_HOST and other.id != run.id and self._counts(other))
        # The reason does not name the busy runs: the log gets a line each time the reason changes, and a queue
        # of runs waiting for one slot would get a line per run per slot change.
        return READY if busy < self.count else Wait(self.describe())

    def _counts(self, other: Run) -> bool:
        args = other.args
        return self.match is None or all(args.get(name) == value for name, value in self.match)
