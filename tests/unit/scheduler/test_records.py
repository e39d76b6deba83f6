"""Records.until: a run waited for until a condition holds, through the changes as they are announced."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from agentd.types import JobId, RunId
from apsisd.clock import WallClock
from apsisd.errors import StoreError
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler.records import Records
from apsisd.store.base import Changes, Store
from apsisd.store.sqlite import SqliteStore

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


class Refusing:
    """A store whose commits fail while `full` (as SQLite's do on a full disk), after `gate` opens if given."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.full = False
        self.gate: asyncio.Event | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def commit(self, changes: Changes) -> int:
        if self.gate is not None:
            await self.gate.wait()
        if self.full:
            raise StoreError("state database apsis.db: the changes were not written: database or disk is full")
        return await self.store.commit(changes)


def refusing(test: Callable[[Records, Refusing], Awaitable[None]], tmp_path: Path) -> None:
    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "apsis.db")
        try:
            async with asyncio.timeout(10):
                wrapper = Refusing(store)
                await test(Records(cast(Store, wrapper), WallClock()), wrapper)
        finally:
            await store.close()

    asyncio.run(main())


def test_a_refused_change_is_undone_in_memory_and_acted_on_by_nobody(tmp_path: Path) -> None:
    async def test(records: Records, store: Refusing) -> None:
        seen: list[tuple[Run | None, Run]] = []
        records.listeners.append(lambda old, new: seen.append((old, new)))
        run = await scheduled(records)
        assert records.ledger.pop_due(T0) == [run]  # taken to start, as the scheduler's loop does
        store.full = True
        with pytest.raises(StoreError, match="disk is full"):
            await records.move(run.id, State.STARTING, "starting")
        assert records.ledger.get(run.id) == run == await store.get(run.id)  # in step: scheduled, both
        assert records.ledger.pop_due(T0) == []  # not due again: whoever took it tries again
        assert [new.state for _, new in seen] == [State.SCHEDULED]  # its creation only: nothing acted on
        assert records.health.problem is not None and "disk is full" in records.health.problem
        store.full = False
        moved = await records.move(run.id, State.STARTING, "starting")
        assert moved is not None and (await store.get(run.id)).state is State.STARTING
        assert records.health.problem is None

    refusing(test, tmp_path)


def test_refused_new_and_withdrawn_runs_are_undone(tmp_path: Path) -> None:
    async def test(records: Records, store: Refusing) -> None:
        kept = await scheduled(records)
        store.full = True
        draft = records.draft(JobId("j"), {}, T0, origin=Origin.MANUAL, reason="test")
        with pytest.raises(StoreError):
            await records.add([draft], deleted=[kept.id])
        assert records.ledger.get(draft[0].id) is None and records.ledger.get(kept.id) == kept
        assert [run.id for run in records.ledger.pop_due(T0)] == [kept.id]  # due as before
        assert [run.id for run in await store.unfinished()] == [kept.id]

    refusing(test, tmp_path)


def test_a_change_waits_for_the_one_in_the_air_and_is_decided_on_what_the_store_kept(tmp_path: Path) -> None:
    async def test(records: Records, store: Refusing) -> None:
        run = await scheduled(records)
        store.full, store.gate = True, asyncio.Event()
        starting = asyncio.create_task(records.move(run.id, State.STARTING, "starting"))
        await asyncio.sleep(0)
        assert records.ledger.get(run.id).state is State.STARTING  # type: ignore[union-attr]  # decided: in memory
        running = asyncio.create_task(records.move(run.id, State.RUNNING, "running", unit="apsis-r1.service"))
        await asyncio.sleep(0)
        store.gate.set()
        with pytest.raises(StoreError):
            await starting
        assert await running is None  # from scheduled (what the store kept), running is no move
        assert records.ledger.get(run.id) == run == await store.get(run.id)

    refusing(test, tmp_path)
