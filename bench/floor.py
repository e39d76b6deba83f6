"""What the benches share: a watch on systemd's units (when each one's program was started, when it ended), the raw
StartTransientUnit floor built on it, percentiles, and apsisd as a real process (the end-to-end tests' Daemon).

A unit's exec start time is its ExecMainStartTimestamp, the instant systemd
forked its main process, as systemd reports it in PropertiesChanged: the same
instrument for apsisd's units, a timer's service and the raw floor's units, so
their figures compare. Run inside the sandbox (see host_throughput.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from agentd.spec import RunSpec
from agentd.systemd.units import object_path, properties
from agentd.types import RunId

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout, for the end-to-end tests' Daemon
from tests.integration.daemon import Daemon  # noqa: E402

__all__ = ["ROOT", "Daemon", "RawRound", "UnitWatch", "percentiles", "raw_round", "scratch", "start_rate",
           "start_transient"]

SD, SD_PATH, MANAGER = "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager"
CHANGED = ("type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',"
           "member='PropertiesChanged',path_namespace='/org/freedesktop/systemd1/unit'")
REMOVED = f"type='signal',sender='{SD}',path='{SD_PATH}',interface='{MANAGER}',member='UnitRemoved'"


class UnitWatch:
    """One connection subscribed to every unit's changes: exec starts by unit path, and futures for ends."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.exec_starts: dict[str, list[int]] = {}  # object path -> each distinct ExecMainStartTimestamp (µs)
        self._ends: dict[str, asyncio.Future[None]] = {}
        bus.add_message_handler(self._on_message)

    @classmethod
    async def open(cls) -> UnitWatch:
        watch = cls(await MessageBus(bus_type=BusType.SYSTEM).connect())
        for match in (CHANGED, REMOVED):
            await watch.bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                                         interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                                         body=[match]))
        await watch.bus.call(Message(destination=SD, path=SD_PATH, interface=MANAGER, member="Subscribe"))
        return watch

    def close(self) -> None:
        self.bus.disconnect()

    def ended(self, path: str) -> asyncio.Future[None]:
        """Resolved when the unit at `path` has run and ended (or was unloaded, as a clean transient unit is)."""
        future = self._ends.get(path)
        if future is None:
            future = self._ends[path] = asyncio.get_running_loop().create_future()
        return future

    def starts(self, path: str) -> list[int]:
        return self.exec_starts.get(path, [])

    def _on_message(self, msg: Message) -> None:
        if msg.message_type != MessageType.SIGNAL:
            return
        if msg.member == "UnitRemoved":
            self._end(msg.body[1])
        elif msg.member == "PropertiesChanged" and msg.path:
            changed = msg.body[1]
            if msg.body[0] == "org.freedesktop.systemd1.Service":
                start = changed.get("ExecMainStartTimestamp")
                if start is not None and start.value:
                    seen = self.exec_starts.setdefault(msg.path, [])
                    if not seen or seen[-1] != start.value:  # systemd repeats the values with every change
                        seen.append(start.value)
            elif msg.body[0] == "org.freedesktop.systemd1.Unit":
                # A new unit first reports "inactive" before it has started: only
                # an end with an InvocationID (an activation happened) counts.
                state, invocation = changed.get("ActiveState"), changed.get("InvocationID")
                if state and state.value in ("inactive", "failed") and invocation and invocation.value:
                    self._end(msg.path)

    def _end(self, path: str) -> None:
        future = self._ends.get(path)
        if future is not None and not future.done():
            future.set_result(None)


@dataclass(frozen=True, slots=True, kw_only=True)
class RawRound:
    """`runs` units started and ended in `elapsed` seconds from the first call (at `began`, wall clock); their
    exec start times (µs, in start order)."""

    runs: int
    began: float
    elapsed: float
    starts: list[int]

    @property
    def rate(self) -> float:
        """Runs started and ended per second, first call to last end."""
        return self.runs / self.elapsed

    @property
    def start_rate(self) -> float:
        """Exec starts per second, first to last."""
        return start_rate(self.starts)

    @property
    def rate_from_first_call(self) -> float:
        """Exec starts per second, from the first call to the last start."""
        return len(self.starts) / (self.starts[-1] / 1e6 - self.began)


async def raw_round(runs: int, in_flight: int, same_properties: bool = False, hold: bool = True) -> RawRound:
    """The floor: /bin/true as transient units through plain StartTransientUnit calls, `in_flight` at once, each
    slot held until its unit ended (as `systemd-run --wait` does), or with `hold` false only until the call's
    reply (how fast systemd takes starts in); the round ends when every unit has ended.

    Without `hold`, beware: calls answered at once can pile up jobs, and
    each pending job costs systemd a match rule (it tracks who asked) on its
    bus connection, which the system bus caps at 512: past that, systemd
    drops off the bus and every subscription to it is lost.
    """
    watch = await UnitWatch.open()
    slots = asyncio.Semaphore(in_flight)
    tag = uuid.uuid4().hex[:8]
    paths: list[str] = []

    async def one(i: int) -> None:
        name = f"raw-{tag}-{i}.service"
        paths.append(object_path(name))
        ended = watch.ended(paths[-1])
        async with slots:
            await start_transient(watch.bus, name, same_properties)
            if hold:
                await ended
        await ended

    wall, began = time.time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(runs)))
    elapsed = time.perf_counter() - began
    await asyncio.sleep(0.1)  # the last units' start signals may trail their ends
    watch.close()
    return RawRound(runs=runs, began=wall, elapsed=elapsed,
                    starts=sorted(s for path in paths for s in watch.starts(path)))


async def start_transient(bus: MessageBus, name: str, same_properties: bool = False) -> None:
    """StartTransientUnit of /bin/true as `name`, with minimal properties or with those apsis sets (minus AddRef:
    the raw side never reads the unit after)."""
    props = [["Type", Variant("s", "exec")],
             ["ExecStart", Variant("a(sasb)", [["/bin/true", ["/bin/true"], False]])]]
    if same_properties:
        spec = RunSpec(run_id=RunId(name.removesuffix(".service")), argv=("/bin/true",))
        props = [p for p in properties(spec, "/bin/true", user_manager=False) if p[0] != "AddRef"]
    reply = await bus.call(Message(destination=SD, path=SD_PATH, interface=MANAGER, member="StartTransientUnit",
                                   signature="ssa(sv)a(sa(sv))", body=[name, "fail", props, []]))
    assert reply is not None and reply.message_type != MessageType.ERROR, reply and reply.body



def start_rate(starts: Sequence[int]) -> float:
    """Starts per second from the first exec start to the last (µs timestamps): n - 1 intervals."""
    ordered = sorted(starts)
    return (len(ordered) - 1) / ((ordered[-1] - ordered[0]) / 1e6)


def percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99 (nearest rank: with under 100 samples, the max) and max."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


@contextlib.contextmanager
def scratch(name: str, keep: bool = False) -> Iterator[Path]:
    """A fresh folder .bench-tmp/<name>-<random> under the checkout for the bench's data, removed afterwards.

    Not named by pid: inside the sandbox's pid namespace every bench has the
    same pid, and a kept folder would refuse the next run.
    """
    (ROOT / ".bench-tmp").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=ROOT / ".bench-tmp"))
    try:
        yield folder
    finally:
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):  # others' data may be there
                folder.parent.rmdir()
