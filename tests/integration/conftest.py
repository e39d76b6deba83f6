"""Integration tests run inside a real systemd (tools/test boots the sandbox for them)."""
from __future__ import annotations

import asyncio
import functools
import inspect
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from agentd.host import Finished, HostEvent
from agentd.local.host import LocalHost
from agentd.types import RunId
from tests.needs_systemd import refuse_without_systemd


def pytest_configure(config: pytest.Config) -> None:
    refuse_without_systemd("tests/integration")


def hosted(timeout: float = 60.0, call_timeout: float = 10.0
           ) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., None]]:
    """Run an async test with a connected LocalHost as `host` (each bus call under `call_timeout`), all under a
    deadline."""

    def decorate(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
        signature = inspect.signature(test)
        params = [p for name, p in signature.parameters.items() if name != "host"]

        @functools.wraps(test)
        def wrapper(**kwargs: Any) -> None:
            async def main() -> None:
                async with asyncio.timeout(timeout):
                    async with LocalHost(call_timeout=call_timeout) as host:
                        await test(host=host, **kwargs)

            asyncio.run(main())

        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def new_run_id() -> RunId:
    return RunId(f"t{uuid.uuid4().hex[:12]}")


async def all_events(host: LocalHost, run_id: RunId) -> list[HostEvent]:
    return [event async for event in host.events(run_id)]


async def finished(host: LocalHost, run_id: RunId) -> Finished:
    events = await all_events(host, run_id)
    ends = [e for e in events if isinstance(e, Finished)]
    assert len(ends) == 1, events
    assert events[-1] is ends[0]
    return ends[0]


async def output(host: LocalHost, run_id: RunId, **kwargs: Any) -> bytes:
    return b"".join([r.data async for r in host.output(run_id, **kwargs)])


def apsis_units() -> list[str]:
    """Every apsis unit systemd has loaded now, in any state."""
    out = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "apsis-*"],
                         capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def unit_property(unit: str, name: str) -> str:
    return subprocess.run(["systemctl", "show", "--value", "-p", name, unit],
                          capture_output=True, text=True, check=True).stdout.strip()


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)
