"""An ActionContext that records what actions ask for: runs scheduled, notes, POSTs (answered as scripted)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any

from agentd.types import JobId, RunId
from apsisd.calendars.calendar import Calendar
from apsisd.errors import ApsisError
from apsisd.runs.model import Run
from apsisd.runs.state import State

WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_run(number: int, job_id: str = "job", state: State = State.SUCCESS, **args: str) -> Run:
    return Run(id=RunId(f"r{number}"), job_id=JobId(job_id), args=args, state=state, schedule_time=WHEN)


class FakeContext:
    """`answers`: what each POST gets in turn, an HTTP status, an exception to raise, or "hang" (never answers)."""

    def __init__(self, params: Mapping[str, tuple[str, ...]] | None = None, answers: list[Any] | None = None,
                 refuse: str | None = None) -> None:
        self.calendars: Mapping[str, Calendar] = {}
        self.params = dict(params or {})
        self.answers = list(answers or [])
        self.refuse = refuse
        self.scheduled: list[tuple[str, dict[str, str], RunId]] = []
        self.notes: list[tuple[RunId, str]] = []
        self.posts: list[tuple[str, Any, dict[str, str]]] = []

    def params_of(self, job_id: JobId) -> tuple[str, ...] | None:
        return self.params.get(job_id)

    async def schedule(self, job_id: JobId, args: Mapping[str, str], *, source: Run) -> Run:
        if self.refuse:
            raise ApsisError(self.refuse)
        self.scheduled.append((job_id, dict(args), source.id))
        return make_run(100 + len(self.scheduled), job_id, State.NEW, **args)

    async def note(self, run_id: RunId, message: str) -> None:
        self.notes.append((run_id, message))

    async def post_json(self, url: str, body: Any, *, headers: Mapping[str, str]) -> int:
        self.posts.append((url, body, dict(headers)))
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "hang":
            await asyncio.Event().wait()
        if isinstance(answer, BaseException):
            raise answer
        return int(answer)

    def run_json(self, run: Run) -> dict[str, Any]:
        return {"run_id": run.id, "job_id": run.job_id, "args": dict(run.args), "state": str(run.state)}


def awaited(awaitable: Awaitable[Any]) -> Any:
    """Await one action, under a deadline."""

    async def bounded() -> Any:
        async with asyncio.timeout(5):
            return await awaitable

    return asyncio.run(bounded())
