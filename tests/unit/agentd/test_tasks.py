"""TaskRoom: named tasks in one group; one failing is logged and stops no other; close leaves none behind."""
from __future__ import annotations

import asyncio
import logging

import pytest

from agentd.tasks import TaskRoom


def test_a_failing_task_is_logged_and_the_others_go_on(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> list[str]:
        room = TaskRoom("room")
        await room.open()
        done: list[str] = []

        async def fails() -> None:
            raise ValueError("boom")

        async def works() -> None:
            await asyncio.sleep(0.05)
            done.append("works")

        failing, working = room.spawn(fails(), "fails"), room.spawn(works(), "works")
        await asyncio.wait([failing, working])
        await room.close()
        return done

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(main()) == ["works"]
    (record,) = [r for r in caplog.records if getattr(r, "action", None) == "task_failed"]
    assert record.getMessage() == "task fails failed" and record.exc_info is not None


def test_tasks_are_named_and_close_cancels_and_awaits_every_one() -> None:
    async def main() -> tuple[list[str], list[str]]:
        room = TaskRoom("room")
        await room.open()
        cancelled: list[str] = []

        async def forever(name: str) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(name)
                raise

        for name in ("a", "b"):
            room.spawn(forever(name), f"forever:{name}")
        await asyncio.sleep(0)
        names = sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("forever:"))
        await room.close()
        assert not [t for t in asyncio.all_tasks() if t.get_name() in ("room", *names)]
        return names, sorted(cancelled)

    assert asyncio.run(main()) == (["forever:a", "forever:b"], ["a", "b"])


def test_a_task_spawned_before_open_runs_and_its_future_tells_its_end() -> None:
    async def main() -> list[str]:
        room = TaskRoom("room")
        ran: list[str] = []

        async def job() -> None:
            ran.append("job")

        done = room.spawn(job(), "job")
        await asyncio.wait_for(done, 5)
        await room.close()
        return ran

    assert asyncio.run(main()) == ["job"]


def test_nothing_starts_after_close() -> None:
    async def main() -> None:
        room = TaskRoom("room")
        await room.open()
        await room.close()

        async def job() -> None:
            raise AssertionError("ran after close")

        with pytest.raises(RuntimeError, match="room is closed: no task late may start"):
            room.spawn(job(), "late")

    asyncio.run(main())
