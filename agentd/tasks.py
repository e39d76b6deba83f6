"""Named tasks in one asyncio.TaskGroup, for a service that starts work as it goes (a host, a scheduler).

The group is held open by one serving task until close(): close cancels and
awaits every task in it, so none outlives its owner. A task's failure is
logged (log action `task_failed`) and goes no further: one run's follow-up
going wrong must not cancel every other, as a bare TaskGroup would.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskRoom:
    def __init__(self, name: str) -> None:
        self.name = name
        self._group: asyncio.TaskGroup | None = None
        self._serving: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._queued: list[tuple[Coroutine[Any, Any, object], str, asyncio.Future[None]]] = []
        self._closed = False

    async def open(self) -> None:
        """Serve the group now: from here on spawn() returns the task itself."""
        self._serve_soon()
        await self._ready.wait()

    def spawn(self, coro: Coroutine[Any, Any, object], name: str) -> asyncio.Future[None]:
        """Run `coro` as a task named `name` in the group; what is returned is done when the task is. Before the
        group is served (open() not awaited), the task starts on the loop's next turn."""
        if self._closed:
            coro.close()
            raise RuntimeError(f"{self.name} is closed: no task {name} may start")
        if self._group is not None:
            return self._group.create_task(_logged(coro, name), name=name)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((coro, name, done))
        self._serve_soon()
        return done

    async def close(self) -> None:
        """Cancel every task and wait for them all."""
        self._closed = True
        for coro, _name, done in self._queued:
            coro.close()
            done.cancel()
        self._queued.clear()
        if self._serving is not None:
            self._serving.cancel()
            await asyncio.gather(self._serving, return_exceptions=True)

    def _serve_soon(self) -> None:
        if self._serving is None:
            self._serving = asyncio.get_running_loop().create_task(self._serve(), name=self.name)

    async def _serve(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                for coro, name, done in self._queued:
                    task = group.create_task(_logged(coro, name), name=name)
                    task.add_done_callback(functools.partial(_settle, done))
                self._queued.clear()
                self._ready.set()
                await asyncio.Event().wait()  # until close() cancels it
        finally:
            self._group = None


async def _logged(coro: Coroutine[Any, Any, object], name: str) -> None:
    try:
        await coro
    except Exception:
        log.exception("task %s failed", name, extra={"action": "task_failed"})


def _settle(done: asyncio.Future[None], task: asyncio.Task[None]) -> None:
    if not done.done():
        if task.cancelled():
            done.cancel()
        else:
            done.set_result(None)
