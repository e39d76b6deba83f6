"""Runs of /bin/true started and waited for: through LocalHost vs raw StartTransientUnit.

Both sides run in the same systemd, in the same process, interleaved over
several rounds, with the same number of runs in flight (default 64, where
the raw side reaches systemd's own rate; try --in-flight 16 to see latency). The raw side is the
floor (floor.py): one connection, a match and Subscribe, minimal properties,
done when the unit's ActiveState is inactive or failed (as `systemd-run
--wait` does).
Run it inside the sandbox:  tools/sandbox.py run -- .venv/bin/python bench/host_throughput.py
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import time
import uuid
from collections.abc import Awaitable

from floor import RawRound, raw_round

from agentd.host import Finished
from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from agentd.types import RunId


async def host_round(runs: int, in_flight: int) -> float:
    async with LocalHost() as host:
        slots = asyncio.Semaphore(in_flight)
        tag = uuid.uuid4().hex[:8]

        async def one(i: int) -> None:
            async with slots:
                run_id = RunId(f"b{tag}{i}")
                await host.start(RunSpec(run_id=run_id, argv=("/bin/true",)))
                async for event in host.events(run_id):
                    if isinstance(event, Finished):
                        assert event.succeeded, event

        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(runs)))
        return time.perf_counter() - began


async def elapsed(round_: Awaitable[RawRound]) -> float:
    return (await round_).elapsed


def cpu_seconds() -> tuple[float, float]:
    """CPU used so far by this process and by systemd (PID 1 of the sandbox)."""
    with open("/proc/1/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, (int(fields[11]) + int(fields[12])) / ticks


async def measured(runs: int, round_: Awaitable[float]) -> tuple[float, float, float]:
    """Runs per second, and the client's and systemd's CPU milliseconds per run."""
    client, manager = cpu_seconds()
    elapsed = await round_
    client_after, manager_after = cpu_seconds()
    return runs / elapsed, (client_after - client) * 1000 / runs, (manager_after - manager) * 1000 / runs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    # 64: the most calls LocalHost keeps in flight (systemd/bus.py), and enough
    # for the raw side to reach systemd's own rate: below that both sides are
    # bound by latency, not by systemd, and the floor is not a floor.
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    await raw_round(50, args.in_flight)  # warm up systemd and both code paths
    await host_round(50, args.in_flight)
    paths = {
        "raw StartTransientUnit (floor)": lambda: elapsed(raw_round(args.runs, args.in_flight)),
        "raw, apsis unit properties": lambda: elapsed(raw_round(args.runs, args.in_flight, same_properties=True)),
        "LocalHost start + events": lambda: host_round(args.runs, args.in_flight),
    }
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in paths}
    for _ in range(args.rounds):
        for name, round_ in paths.items():
            results[name].append(await measured(args.runs, round_()))
    print(f"{args.runs} runs of /bin/true per round, {args.in_flight} in flight, {args.rounds} rounds (median)")
    print(f"{'path':<34}{'runs/s':>8}{'ratio':>7}{'client ms/run':>15}{'systemd ms/run':>16}   rounds (runs/s)")
    floor = statistics.median(rate for rate, _, _ in results["raw StartTransientUnit (floor)"])
    for name, rows in results.items():
        rate = statistics.median(r for r, _, _ in rows)
        client = statistics.median(c for _, c, _ in rows)
        manager = statistics.median(m for _, _, m in rows)
        print(f"{name:<34}{rate:>8.0f}{rate / floor:>7.2f}{client:>15.2f}{manager:>16.2f}   "
              + " ".join(f"{r:.0f}" for r, _, _ in rows))


if __name__ == "__main__":
    asyncio.run(main())
