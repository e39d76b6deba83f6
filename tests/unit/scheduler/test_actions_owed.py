"""Actions owed across a crash: apsisd killed at any point between a transition and the crossing-off of its
actions, the next start runs them again, and a `schedule` action's run (a successor) is made exactly once.
Against a real store; the kill is a commit that never comes back and is never written."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from agentd.types import JobId, RunId
from apsisd.jobs.load import read_jobs
from apsisd.jobs.scheduling import DEFAULTS
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler.recovery import recover
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import Changes, RunQuery, Store
from apsisd.store.sqlite import SqliteStore
from tests.unit.scheduler.fake_clock import SetClock

NOW = datetime(2026, 12, 1, 13, 59, 25, tzinfo=UTC)
FIRST = "params: [day]\nprogram: 'true'\nsuccessors: [second, third]\n"
SECOND = "params: [day]\nprogram: 'true'\n"


class Killed:
    """The store until the commit that `kills` picks: apsisd dies as it asks for it, so it is never written."""

    def __init__(self, store: Store, kills: Callable[[Changes], bool]) -> None:
        self._store = store
        self._kills = kills
        self.dead = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def commit(self, changes: Changes) -> int:
        if self.dead.is_set() or self._kills(changes):
            self.dead.set()
            await asyncio.Event().wait()
        return await self._store.commit(changes)


def made(job: str) -> Callable[[Changes], bool]:
    """The commit of the run the action makes for `job`."""
    return lambda changes: any(run.job_id == job and run.origin is Origin.ACTION for run in changes.runs)


# Where apsisd dies: before either successor, between them, after both but before the crossing-off.
KILLS = {
    "before the successors": made("second"),
    "between the successors": made("third"),
    "before the crossing-off": lambda changes: bool(changes.actions_done),
}


def scheduler_on(store: Any, folder: Path) -> Scheduler:
    return Scheduler(store=store, hosts={"local": object()}, clock=SetClock(NOW), jobs=read_jobs(folder),  # type: ignore[arg-type]
                     defaults=DEFAULTS, max_waiting=None)


@pytest.mark.parametrize("kill", list(KILLS))
def test_a_successor_is_made_once_whenever_apsisd_is_killed(tmp_path: Path, kill: str) -> None:
    """The campaign's r2000096 made its successor r2000100, apsisd was killed 25 ms later, before the action was
    crossed off, and the next start made r2000109."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    for job, text in (("first", FIRST), ("second", SECOND), ("third", SECOND)):
        (folder / f"{job}.yaml").write_text(text)

    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "apsis.db")
        try:
            run_id = RunId("r1")
            await store.commit(Changes(runs=[Run(
                id=run_id, job_id=JobId("first"), args=MappingProxyType({"day": "mon"}), state=State.SUCCESS,
                schedule_time=NOW, times=MappingProxyType({State.SCHEDULED: NOW, State.SUCCESS: NOW}))],
                actions_owed=[(run_id, State.SUCCESS)]))  # as the transition commits it
            async with asyncio.timeout(10):
                dying = Killed(store, KILLS[kill])
                doomed = scheduler_on(dying, folder)
                await recover(doomed, None)
                await dying.dead.wait()
                await doomed.close()
                again = scheduler_on(store, folder)
                await recover(again, None)
                while await store.actions_owed():
                    await asyncio.sleep(0.01)
                await again.close()
            for job in ("second", "third"):
                (successor,) = await store.runs(RunQuery(job_id=JobId(job)))
                assert (successor.previous, dict(successor.args)) == (run_id, {"day": "mon"})
        finally:
            await store.close()

    asyncio.run(main())
