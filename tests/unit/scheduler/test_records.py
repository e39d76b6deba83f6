"""Records.until: a run waited for until a condition holds, through the changes as they are announced."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from apsisd.clock import WallClock
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler.records import Records
from apsisd.store.sqlite import SqliteStore
from apsisd.types import JobId, RunId

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def scenario(test: Callable[[Records], Awaitable[None]], tmp_path: Path) -> None:
    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "apsis.db")
        try:
            async with asyncio.timeout(10):
                await test(Records(store, WallClock()))
        finally:
            await store.close()

    asyncio.run(main())


def has_unit(run: Run) -> bool:
    return run.unit is not None or run.finished


async def scheduled(records: Records) -> Run:
    draft = records.draft(JobId("j"), {}, T0, origin=Origin.MANUAL, reason="test")
    await records.add([draft])
    return draft[0]


def test_a_run_that_holds_already_is_given_at_once(tmp_path: Path) -> None:
    async def test(records: Records) -> None:
        run = await scheduled(records)
        assert await records.until(run.id, lambda r: r.state is State.SCHEDULED) == run

    scenario(test, tmp_path)


def test_it_waits_for_the_change_that_makes_it_hold(tmp_path: Path) -> None:
    async def test(records: Records) -> None:
        run = await scheduled(records)
        waiting = asyncio.create_task(records.until(run.id, has_unit))
        await records.move(run.id, State.STARTING, "starting")
        await asyncio.sleep(0)
        assert not waiting.done()  # starting, but no unit yet
        await records.move(run.id, State.RUNNING, "running", unit="apsis-r1.service")
        found = await waiting
        assert found is not None and (found.state, found.unit) == (State.RUNNING, "apsis-r1.service")
        assert not records._watches  # nothing left behind

    scenario(test, tmp_path)


def test_a_finished_run_is_read_from_the_store(tmp_path: Path) -> None:
    async def test(records: Records) -> None:
        run = await scheduled(records)
        await records.move(run.id, State.SKIPPED, "skipped")
        assert records.ledger.get(run.id) is None
        found = await records.until(run.id, has_unit)
        assert found is not None and found.state is State.SKIPPED

    scenario(test, tmp_path)


def test_a_run_withdrawn_while_waited_for_or_never_recorded_gives_none(tmp_path: Path) -> None:
    async def test(records: Records) -> None:
        run = await scheduled(records)
        waiting = asyncio.create_task(records.until(run.id, has_unit))
        await asyncio.sleep(0)
        await records.add([], deleted=[run.id])
        assert await waiting is None
        assert await records.until(RunId("r999"), has_unit) is None

    scenario(test, tmp_path)


def test_a_waiter_cancelled_leaves_no_watch(tmp_path: Path) -> None:
    async def test(records: Records) -> None:
        run = await scheduled(records)
        waiting = asyncio.create_task(records.until(run.id, has_unit))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        assert not records._watches
        await records.move(run.id, State.SKIPPED, "skipped")  # announcing to nobody is fine

    scenario(test, tmp_path)
