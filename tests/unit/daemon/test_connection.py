"""Connection: the handler of an answer that lasts is cancelled when its connection is lost (at once if it is
already), whatever aiohttp does; an answer that has ended, or does not last, is left alone."""
from __future__ import annotations

import asyncio
import contextlib

from apsisd.api.limits import Answering
from apsisd.config.api_limits import ApiLimits
from apsisd.daemon.connection import Connection


class Transport(asyncio.Transport):
    def abort(self) -> None:
        raise AssertionError("no clock runs out in these tests")


def opened() -> tuple[Connection, list[str]]:
    released: list[str] = []
    connection = Connection(asyncio.Protocol(), ApiLimits(), lambda: released.append("released"))
    connection.connection_made(Transport())
    return connection, released


async def held(connection: Connection, lasting: bool, started: asyncio.Event) -> str:
    with connection.answering(), connection.lasting() if lasting else contextlib.nullcontext():
        started.set()
        await asyncio.sleep(3600)
    return "never"


def test_a_lost_connection_cancels_the_answers_that_last_and_them_only() -> None:
    asyncio.run(lost_while_answering())


async def lost_while_answering() -> None:
    connection, released = opened()
    assert isinstance(connection, Answering)
    flags = [asyncio.Event() for _ in range(2)]
    lasting = asyncio.create_task(held(connection, True, flags[0]), name="lasting")
    other = asyncio.create_task(held(connection, False, flags[1]), name="other")
    async with asyncio.timeout(5):
        for flag in flags:
            await flag.wait()
        connection.connection_lost(None)
        await asyncio.wait([lasting])
    assert lasting.cancelled() and not other.done() and released == ["released"]
    other.cancel()


def test_an_answer_that_lasts_on_a_connection_lost_already_is_cancelled_at_once() -> None:
    asyncio.run(lost_before())


async def lost_before() -> None:
    connection, _ = opened()
    connection.connection_lost(None)
    late = asyncio.create_task(held(connection, True, asyncio.Event()), name="late")
    async with asyncio.timeout(5):
        await asyncio.wait([late])
    assert late.cancelled()


def test_an_answer_that_has_ended_is_not_cancelled_by_a_later_loss() -> None:
    asyncio.run(lost_after())


async def lost_after() -> None:
    connection, _ = opened()
    with connection.lasting():
        pass
    connection.connection_lost(None)
    await asyncio.sleep(0)  # a cancel would land here
    task = asyncio.current_task()
    assert task is not None and not task.cancelling()
