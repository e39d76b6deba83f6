"""The runs as the API reads them through the scheduler: pages with runs in flight as the ledger holds them, a
run's log, and what changed since a number."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentd.types import JobId, RunId
from apsisd.errors import UnknownRun
from apsisd.jobs.model import JobSet
from apsisd.jobs.scheduling import DEFAULTS
from apsisd.runs.model import Origin
from apsisd.runs.state import State
from apsisd.scheduler import history
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import RunQuery
from apsisd.store.sqlite import SqliteStore
from tests.unit.scheduler.fake_clock import SetClock

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_what_the_api_reads_of_the_runs(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await SqliteStore.open(tmp_path / "apsis.db")
        try:
            scheduler = Scheduler(store=store, hosts={"local": object()}, clock=SetClock(NOW),  # type: ignore[arg-type]
                                  jobs=JobSet(jobs={}, calendars={}), defaults=DEFAULTS, max_waiting=None)
            start = history.next_seq(scheduler)
            drafts = [scheduler.records.draft(JobId("etl"), {}, NOW, origin=Origin.SCHEDULE, reason="due")
                      for _ in range(3)]
            await scheduler.records.add(drafts)
            first, second, third = (run for run, _ in drafts)
            assert history.next_seq(scheduler) > start

            # A change in the ledger not yet committed: the page shows the run as it is now, the store as it was.
            scheduler.ledger.put(replace(third, state=State.WAITING))
            page, before = await history.runs_page(scheduler, RunQuery(limit=2))
            assert [(run.id, run.state) for run in page] == [(third.id, State.WAITING), (second.id, State.SCHEDULED)]
            assert before == second.id
            assert await history.runs_page(scheduler, RunQuery(limit=2, before=before)) == ([first], None)
            assert [run.state for run in await history.runs(scheduler, RunQuery(limit=1))] == [State.SCHEDULED]

            assert [(entry.message, entry.state) for entry in await history.run_log(scheduler, first.id)] == [
                ("due", State.SCHEDULED)]
            with pytest.raises(UnknownRun):
                await history.run_log(scheduler, RunId("r999"))

            changed = await history.changed_since(scheduler, start - 1, 2)  # after the change before them
            assert [(seq, getattr(change, "id", None)) for seq, change in changed] == [
                (start, first.id), (start + 1, second.id)]
        finally:
            await store.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))
