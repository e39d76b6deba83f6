"""What a run depends on: its job's `dependency` conditions bound to it, each with whether it holds now and the
runs it would take.

Bound as the waiter binds them (the job as loaded now, its templates
rendered with the run's args) and checked as the waiter checks them, so
the answer is the one the run waits on. A condition whose template fails
for this run is reported with its error rather than failing the others: it
is what would put the run in `error` when it comes due.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agentd.types import RunId
from apsisd.conditions.base import Ready
from apsisd.conditions.dependency import Dependency
from apsisd.errors import ApsisError
from apsisd.runs.model import Run, run_number
from apsisd.runs.state import State
from apsisd.scheduler.operations import UnknownJob
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import RunQuery

MAX_RUNS = 10  # the runs shown per dependency: enough to see what happened lately


@dataclass(frozen=True, slots=True, kw_only=True)
class DependencyStatus:
    """One dependency of a run: the job and args it names (as written when `error` says they cannot be worked
    out), the states that satisfy it, whether one of its runs is in them now, and its newest runs (any state)."""

    job_id: str
    args: Mapping[str, str]
    states: frozenset[State]
    satisfied: bool
    runs: tuple[RunId, ...]
    error: str | None = None


async def dependencies(scheduler: Scheduler, run: Run) -> list[DependencyStatus]:
    """The run's dependencies in the order its job lists its conditions; UnknownJob when the job is not loaded
    (removed since, or the run was ad hoc): its conditions are then unknown."""
    jobs = scheduler.jobs
    job = jobs.job_of(run)
    if job is None:
        raise UnknownJob(run.job_id)
    found = []
    for index, condition in enumerate(job.conditions):
        if not isinstance(condition, Dependency):
            continue
        try:
            bound = condition.bind(run, jobs, jobs.calendars)
        except ApsisError as exc:
            found.append(DependencyStatus(job_id=condition.target.job_id, args=condition.target.args,
                                          states=condition.states, satisfied=False, runs=(),
                                          error=f"condition[{index}] ({condition.type_name}): {exc}"))
            continue
        verdict = await bound.check(run, scheduler.waiter)
        stored = await scheduler.records.store.runs(RunQuery(job_id=bound.job_id, args=bound.args, exact_args=True,
                                                             limit=MAX_RUNS))
        wanted = dict(bound.args)
        in_flight = [other.id for other in scheduler.ledger.active(bound.job_id) if dict(other.args) == wanted]
        newest = sorted({*in_flight, *(other.id for other in stored)}, key=run_number, reverse=True)[:MAX_RUNS]
        found.append(DependencyStatus(job_id=bound.job_id, args=bound.args, states=bound.states,
                                      satisfied=isinstance(verdict, Ready), runs=tuple(newest)))
    return found
