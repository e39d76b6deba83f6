"""The demo: one program run as a transient systemd unit through the host interface.

It prints the run's state changes as they happen and its output as the
journal receives it, then where to find both again with systemd's own tools.
"""
from __future__ import annotations

import asyncio
import secrets
import sys

from apsisd.hosts.base import Finished, Started
from apsisd.hosts.local import LocalHost
from apsisd.hosts.spec import RunSpec
from apsisd.types import JobId, RunId

DEMO = r"""
echo "hello from $(hostname), as $(id -un), in $PWD"
for i in 1 2 3; do echo "step $i of 3"; sleep 0.4; done
printf 'a line that is not UTF-8: caf\351\n'
echo "done; exiting 3 to show a failure" >&2
exit 3
"""


async def main() -> int:
    run_id = RunId(f"demo{secrets.token_hex(3)}")
    spec = RunSpec(run_id=run_id, job_id=JobId("demo/hello"), shell=DEMO, cwd="/", timeout=60)
    async with LocalHost() as host:
        print(f"starting run {run_id} on the {'user' if host.user_manager else 'system'} manager")
        started = await host.start(spec)
        print(f"  unit {started.unit}")

        async def show_events() -> Finished:
            async for event in host.events(run_id):
                if isinstance(event, Started):
                    print(f"  [state] running: pid {event.main_pid}, invocation {event.invocation_id}")
                elif isinstance(event, Finished):
                    print(f"  [state] finished: result={event.result} exit_code={event.exit_code} "
                          f"signal={event.signal} cpu={event.cpu_time_ns}ns")
                    return event
            raise AssertionError("no Finished event")

        events = asyncio.create_task(show_events())
        async for record in host.output(run_id, follow=True):
            print(f"  [output] {record.data!r}")
        finished = await events
    print(f"see it again: journalctl APSIS_RUN_ID={run_id}   (or: journalctl -u {started.unit})")
    return 0 if finished.result == "exit-code" and finished.exit_code == 3 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
