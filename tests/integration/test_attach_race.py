"""Attaching to a run as it ends: the properties read to attach were read before the end, and the end's signal
came while they were still being read. The snapshot must not hide that signal, or the run is never told ended."""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from agentd.host import Started
from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from agentd.systemd.bus import UNIT_IFACE
from agentd.systemd.units import unit_name
from tests.integration.conftest import finished, hosted, new_run_id, wait_until


def active_state(unit: str) -> str:
    return subprocess.run(["systemctl", "show", "-p", "ActiveState", "--value", unit],
                          capture_output=True, text=True, check=True).stdout.strip()


@hosted(timeout=30)
async def test_a_run_that_ends_while_it_is_being_attached_to_is_told_finished(host: LocalHost,
                                                                               tmp_path: Path) -> None:
    run_id = new_run_id()
    unit = unit_name(run_id)
    gate = tmp_path / "gate"
    async with LocalHost(call_timeout=10) as starter:
        await starter.start(RunSpec(run_id=run_id, shell=f"while [ ! -e {gate} ]; do sleep 0.02; done"))
        assert isinstance(await anext(aiter(starter.events(run_id))), Started)

        # The race, made wide: once the unit's properties are read (running), the run ends and its end's
        # signal reaches the attaching host before it has read the rest and merged what it read.
        bus = host._bus  # the test widens a window inside the host's own reads
        read = bus.get_all

        async def get_all_as_the_run_ends(path: str, interface: str) -> dict[str, Any]:
            props = await read(path, interface)
            if interface == UNIT_IFACE and props.get("ActiveState") == "active" and not gate.exists():
                gate.touch()
                await wait_until(lambda: active_state(unit) == "inactive", "the run ended")
                await asyncio.sleep(0.5)  # the end's PropertiesChanged, sent after the change, is in
            return props

        bus.get_all = get_all_as_the_run_ends  # type: ignore[method-assign]
        end = await finished(host, run_id)
    assert gate.exists()  # the window was opened: the end came while the properties were read
    assert end.result == "success"
