"""A RunView and Jobs over a plain list of runs: what conditions see, without a scheduler or a store."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from agentd.types import JobId, RunId
from apsisd.runs.model import Run, run_number
from apsisd.runs.state import State

T = TypeVar("T")
WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_run(number: int, job_id: str = "job", state: State = State.WAITING, **args: str) -> Run:
    return Run(id=RunId(f"r{number}"), job_id=JobId(job_id), args=args, state=state, schedule_time=WHEN)


class FakeView:
    """`runs` is everything: active() gives the unfinished ones (memory), latest() searches all (the store)."""

    def __init__(self, *runs: Run) -> None:
        self.runs = list(runs)

    def active(self, job_id: JobId) -> Iterable[Run]:
        return [run for run in self.runs if run.job_id == job_id and not run.finished]

    async def latest(self, job_id: JobId, args: Mapping[str, str], states: frozenset[State]) -> Run | None:
        found = [run for run in self.runs
                 if run.job_id == job_id and dict(run.args) == dict(args) and run.state in states]
        return max(found, key=lambda run: run_number(run.id), default=None)


class FakeJobs:
    def __init__(self, **params: tuple[str, ...]) -> None:
        self.params = params

    def params_of(self, job_id: JobId) -> tuple[str, ...] | None:
        return self.params.get(job_id)


def awaited(awaitable: Awaitable[T]) -> T:
    """Await one check, under a deadline."""

    async def bounded() -> Any:
        async with asyncio.timeout(5):
            return await awaitable

    return asyncio.run(bounded())  # type: ignore[no-any-return]
