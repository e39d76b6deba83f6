"""The Condition protocol: what must hold before a run starts, and what it sees of the other runs.

A condition is parsed from the job file once (`parse`), bound to one run
when the run starts waiting (`bind`: templates rendered with the run's args),
then checked whenever a run of a job it watches changes state. Checks are
made one at a time by the scheduler, which moves the run on before it checks
the next: a count of running runs is never stale.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

from agentd.types import JobId
from apsisd.calendars.calendar import Calendar
from apsisd.fields import Fields
from apsisd.runs.model import Run
from apsisd.runs.state import State


@dataclass(frozen=True, slots=True)
class Ready:
    """The condition holds."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Not yet: `reason` says what the run waits for, for its log."""

    reason: str


@dataclass(frozen=True, slots=True)
class Settle:
    """Stop waiting and end the run in `state` (skipped or error), for `reason`."""

    state: State
    reason: str


Verdict = Ready | Wait | Settle
READY = Ready()


class RunView(Protocol):
    """What a condition may look at: the runs in flight (in memory), and the history (the store)."""

    def active(self, job_id: JobId) -> Iterable[Run]:
        """The job's runs that are not finished, this one included."""
        ...

    async def latest(self, job_id: JobId, args: Mapping[str, str], states: frozenset[State]) -> Run | None:
        """The newest run of the job with these args (exactly) in one of `states`, finished or not."""
        ...


class BoundCondition(Protocol):
    """A condition for one run."""

    def watches(self) -> frozenset[JobId]:
        """The jobs whose runs' changes may change the verdict: checks happen again when one of them moves."""
        ...

    def describe(self) -> str:
        """What is waited for, in words, for the run's log: 'dependency etl/load(date=2026-11-26) is success'."""
        ...

    async def check(self, run: Run, view: RunView) -> Verdict:
        ...


class Jobs(Protocol):
    """The jobs a condition may name, by id, with their params (what dependency inherits args by)."""

    def params_of(self, job_id: JobId) -> tuple[str, ...] | None:
        """The job's params; None when no such job is loaded."""
        ...


class Condition(Protocol):
    """A condition as written in a job file; types come from the `apsis.conditions` entry points."""

    type_name: ClassVar[str]

    @classmethod
    def parse(cls, fields: Fields) -> Condition:
        """From the condition's mapping (less `type`); read every key through `fields`, then `fields.done()`."""
        ...

    def bind(self, run: Run, jobs: Jobs, calendars: Mapping[str, Calendar]) -> BoundCondition:
        """The condition for `run`; InvalidFields (paths under the condition) if a template or arg fails."""
        ...
