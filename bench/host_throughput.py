"""Runs of /bin/true started and waited for: through LocalHost vs raw StartTransientUnit.

Both sides run in the same systemd, in the same process, interleaved over
several rounds, with the same number of runs in flight (default 64, where
the raw side reaches systemd's own rate; try --in-flight 16 to see latency). The raw side is the
floor: one connection, a match and Subscribe, minimal properties, done when
the unit's ActiveState is inactive or failed (as `systemd-run --wait` does).
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

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from apsisd.hosts.base import Finished
from apsisd.hosts.local import LocalHost
from apsisd.hosts.spec import RunSpec
from apsisd.systemd.units import object_path, properties
from apsisd.types import RunId

SD, SD_PATH, MANAGER = "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager"


async def raw_round(runs: int, in_flight: int, same_properties: bool = False) -> float:
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    done: dict[str, asyncio.Future[None]] = {}

    def on_message(msg: Message) -> None:
        if msg.message_type != MessageType.SIGNAL:
            return
        if msg.member == "UnitRemoved":  # a clean transient unit is unloaded at once
            future = done.get(msg.body[1])
        elif msg.member == "PropertiesChanged" and msg.body[0] == "org.freedesktop.systemd1.Unit":
            # A new unit first reports "inactive" before it has started: only
            # an end with an InvocationID (an activation happened) counts.
            state, invocation = msg.body[1].get("ActiveState"), msg.body[1].get("InvocationID")
            ended = state and state.value in ("inactive", "failed") and invocation and invocation.value
            future = done.get(msg.path or "") if ended else None
        else:
            return
        if future is not None and not future.done():
            future.set_result(None)

    bus.add_message_handler(on_message)
    rule = ("type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',"
            "member='PropertiesChanged',path_namespace='/org/freedesktop/systemd1/unit'")
    removed = f"type='signal',sender='{SD}',path='{SD_PATH}',interface='{MANAGER}',member='UnitRemoved'"
    for match in (rule, removed):
        await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                               interface="org.freedesktop.DBus", member="AddMatch", signature="s", body=[match]))
    await bus.call(Message(destination=SD, path=SD_PATH, interface=MANAGER, member="Subscribe"))
    slots = asyncio.Semaphore(in_flight)
    tag = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        async with slots:
            name = f"raw-{tag}-{i}.service"
            path = object_path(name)
            done[path] = asyncio.get_running_loop().create_future()
            props = [["Type", Variant("s", "exec")],
                     ["ExecStart", Variant("a(sasb)", [["/bin/true", ["/bin/true"], False]])]]
            if same_properties:  # what apsis sets, minus AddRef (the raw side never reads the unit after)
                spec = RunSpec(run_id=RunId(f"{tag}{i}"), argv=("/bin/true",))
                props = [p for p in properties(spec, "/bin/true", user_manager=False) if p[0] != "AddRef"]
            reply = await bus.call(Message(destination=SD, path=SD_PATH, interface=MANAGER,
                                           member="StartTransientUnit", signature="ssa(sv)a(sa(sv))",
                                           body=[name, "fail", props, []]))
            assert reply is not None and reply.message_type != MessageType.ERROR, reply and reply.body
            await done[path]
            del done[path]

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(runs)))
    elapsed = time.perf_counter() - began
    bus.disconnect()
    return elapsed


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
        "raw StartTransientUnit (floor)": lambda: raw_round(args.runs, args.in_flight),
        "raw, apsis unit properties": lambda: raw_round(args.runs, args.in_flight, same_properties=True),
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
