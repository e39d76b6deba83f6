"""The connection to systemd: subscribing twice (systemd rejoining the bus as we connect) is not an error."""
from __future__ import annotations

import asyncio

from agentd.systemd.bus import SystemdBus


def test_subscribing_again_is_harmless() -> None:
    async def scenario() -> None:
        async def nothing() -> None:
            return None

        bus = SystemdBus(user_manager=False, on_signal=lambda message: None, on_reconnect=nothing, call_timeout=10)
        async with asyncio.timeout(30):
            await bus.connect()  # subscribes once
            try:
                await bus._subscribe()  # what _resubscribe does when systemd's name changes owner meanwhile
            finally:
                await bus.close()

    asyncio.run(scenario())
