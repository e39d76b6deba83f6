"""Run by test_user_manager.py as an unprivileged user: LocalHost on that user's own systemd.

Prints one JSON object with what it saw; the test asserts on it.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from agentd.errors import SpecError
from agentd.host import Finished, Started
from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from agentd.types import RunId


async def finished(host: LocalHost, run_id: RunId) -> dict[str, object]:
    events = [event async for event in host.events(run_id)]
    end = events[-1]
    assert isinstance(end, Finished), events
    return {"started": any(isinstance(e, Started) for e in events), "result": end.result,
            "exit_code": end.exit_code, "stop_requested": end.stop_requested, "succeeded": end.succeeded,
            "recovered": end.recovered, "finished_events": sum(isinstance(e, Finished) for e in events)}


async def main(prefix: str) -> dict[str, object]:
    seen: dict[str, object] = {"uid": os.getuid()}
    async with asyncio.timeout(60), LocalHost(call_timeout=10) as host:
        seen["user_manager"] = host.user_manager
        plain = RunId(f"{prefix}a")
        shell = "echo out; id -u; for i in 1 2 3; do /bin/echo child$i; done; printf 'caf\\351\\n'; exit 3"
        await host.start(RunSpec(run_id=plain, shell=shell))
        seen["plain"] = await finished(host, plain)
        # follow: ends with the run, then waits journald out (an unprivileged user may not sync it)
        seen["plain_output"] = b"".join([r.data async for r in host.output(plain, follow=True)]).decode("latin-1")

        # split: systemd-cat's streams carry the run's own identifier, by which a user manager's output is found
        split = RunId(f"{prefix}e")
        await host.start(RunSpec(run_id=split, shell="echo out; sleep 0.3; echo err >&2; exit 5", split_output=True))
        seen["split"] = await finished(host, split)
        seen["split_output"] = [[r.data.decode(), r.priority] async for r in host.output(split, follow=True)]

        stopped = RunId(f"{prefix}b")
        await host.start(RunSpec(run_id=stopped, argv=("/bin/sleep", "300"), grace_period=5))
        await anext(aiter(host.events(stopped)))  # Started
        seen["listed"] = [u.run_id for u in await host.list()]
        await host.stop(stopped)
        seen["stopped"] = await finished(host, stopped)

        try:
            await host.start(RunSpec(run_id=RunId(f"{prefix}c"), argv=("/bin/true",), user="root"))
            seen["other_user"] = "started"
        except SpecError as exc:
            seen["other_user"] = exc.field

    # A run that ends while no apsis is connected, found afterwards.
    away = RunId(f"{prefix}d")
    async with LocalHost(call_timeout=10) as host:
        await host.start(RunSpec(run_id=away, shell="exit 4"))
    subprocess.run(["systemctl", "--user", "is-failed", "--quiet", f"apsis-{away}.service"], timeout=10)
    async with asyncio.timeout(60), LocalHost(call_timeout=10) as host:
        seen["away"] = await finished(host, away)
    # And one read back from the journal: the user manager's own records of it (and our notes) tell its end.
    forgotten = RunId(f"{prefix}f")
    async with asyncio.timeout(60), LocalHost(call_timeout=10, keep_finished=0.3) as host:
        await host.start(RunSpec(run_id=forgotten, shell="exit 6"))
        await finished(host, forgotten)  # lets the unit go
        await asyncio.sleep(1.0)  # past keep_finished: the host no longer holds the outcome in memory
        seen["forgotten"] = await finished(host, forgotten)
    return seen


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
