"""The feed: changes in their order, what the buffer covers, subscribers cut off when they fall behind, closing."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from agentd.types import JobId, RunId
from apsisd.runs.model import Run
from apsisd.scheduler.feed import Feed, JobsChanged, Lagged

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def a_run(number: int) -> Run:
    return Run(id=RunId(f"r{number}"), job_id=JobId("j"), schedule_time=T0)


def keys(changes: list) -> list[tuple[int, int]]:
    return [change.key for change in changes]


def test_changes_are_kept_in_order_and_a_place_is_covered_while_the_buffer_holds_what_came_after() -> None:
    feed = Feed(start=10, size=4)
    assert feed.covers(9) and not feed.covers(10) and not feed.covers(8)  # nothing yet: only "up to date"
    feed.publish_runs(10, [a_run(1), a_run(2)], deleted=[RunId("r3")])
    feed.publish_jobs(JobsChanged(removed=(JobId("old"),)))
    assert keys(feed.since(9)) == [(10, 0), (11, 0), (12, 0), (12, 1)]
    assert feed.since(12)[0].jobs == JobsChanged(removed=(JobId("old"),))  # what came after 12 includes the jobs
    assert feed.last == 12 and feed.covers(9) and feed.covers(12) and not feed.covers(13)
    feed.publish_runs(13, [a_run(1)])
    assert len(feed) == 4 and not feed.covers(9) and feed.covers(10)
    assert keys(feed.since(10)) == [(11, 0), (12, 0), (12, 1), (13, 0)]


def test_a_change_published_out_of_order_takes_its_place() -> None:
    feed = Feed(start=1)
    feed.publish_runs(2, [a_run(2)])
    feed.publish_runs(1, [a_run(1)])
    assert keys(feed.since(0)) == [(1, 0), (2, 0)] and feed.last == 2


def test_a_subscriber_gets_what_comes_after_it_subscribed_and_is_cut_off_when_too_far_behind() -> None:
    async def scenario() -> None:
        feed = Feed(start=1)
        feed.publish_runs(1, [a_run(1)])
        subscription = feed.subscribe(limit=3)
        assert await subscription.next_batch(0.01) == []  # nothing new: the wait ends empty
        feed.publish_runs(2, [a_run(2), a_run(3)])
        assert keys(await subscription.next_batch(1)) == [(2, 0), (3, 0)]
        feed.publish_runs(4, [a_run(4), a_run(5), a_run(6), a_run(7)])
        with pytest.raises(Lagged):
            await subscription.next_batch(1)
        subscription.close()
        feed.publish_runs(8, [a_run(8)])  # no longer delivered to it
        late = feed.subscribe()
        waiting = asyncio.create_task(late.next_batch(10))
        await asyncio.sleep(0)
        feed.close()
        assert await waiting is None  # closing ends every subscription at once
        assert await feed.subscribe().next_batch(10) is None
    asyncio.run(asyncio.wait_for(scenario(), 5))
