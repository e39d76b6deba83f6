"""RemoteHost: the Host of another machine, through agentd over a link apsisd opens (SSH).

The runs live on the remote systemd: a lost link loses nothing but sight of
them. The link is made again (backing off up to RETRY_MAX), and what was
being asked is asked again: a start is adopted if its unit exists (unit name
= run id), a run's events are asked for again (its Started told once), its
output resumed after the last cursor read. A call that finds no link for
`call_timeout` fails with a HostError saying since when the host is
unreachable and why: in the words of the side that makes the link (`explain`:
ssh's failure(), which names a changed host key and what to do), else in
ssh's own last lines; the scheduler never invents an outcome from that.

A remote host may run an apsisd of its own, or be driven by more than one:
run ids are only unique within one scheduler. So a run's id on the host is
`<scheduler>-<run id>` (its unit `apsis-<scheduler>-<run id>.service`): two
schedulers never adopt each other's units, and list() shows this scheduler
only its own.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from agentd.errors import HostError, RunNotFound
from agentd.host import Finished, HostEvent, LinkStatus, OutputRecord, Started, StartResult, UnitState
from agentd.protocol.messages import Hello
from agentd.protocol.wire import from_plain, to_plain
from agentd.remote.channel import Channel, ConnectionLost
from agentd.remote.link import Link
from agentd.spec import RunSpec, Stream
from agentd.tasks import TaskRoom
from agentd.types import RunId

log = logging.getLogger(__name__)

SCHEDULER = re.compile(r"[a-z0-9]{1,32}")  # a scheduler's identity, the prefix of its runs' ids on a host
RETRY_FIRST = 0.5  # seconds before making a lost link again; doubled on each failure
RETRY_MAX = 30.0
RETRY_WANTED = 1.0  # seconds at most between attempts while a call waits for the link
PING_EVERY = 15.0  # seconds between pings on a quiet link: one unanswered means it is dead

Explain = Callable[[int | None, str], str | None]
"""Why a link failed, from its process's exit status and what it said (its last stderr lines): the words of the
side that made it (ssh's failure(), which names a changed host key and what to do), or None to keep ours."""


class RemoteHost:
    """The Host of the machine `name`, reached by the link `connect` makes."""

    def __init__(self, name: str, connect: Callable[[], Awaitable[Link]], *, scheduler: str,
                 call_timeout: float = 30.0, ping_every: float = PING_EVERY, explain: Explain | None = None) -> None:
        if not SCHEDULER.fullmatch(scheduler):
            raise ValueError(f"scheduler identity {scheduler!r}: use 1 to 32 lowercase letters and digits")
        self.name = name
        self._connect = connect
        self._explain = explain
        self._scheduler = scheduler
        self.call_timeout = call_timeout
        self._ping_every = ping_every
        self._room = TaskRoom(f"remote-host:{name}")
        self._channel: Channel | None = None
        self._changed = asyncio.Condition()  # told whenever _channel changes
        self._tried = False  # set once the first link came up or failed
        self._waiting = 0  # calls and streams waiting for a link
        self._wanted = asyncio.Event()  # set while one is
        self.hello: Hello | None = None
        self.clock_skew: float | None = None  # seconds the host's clock is ahead of ours, measured on linking
        self.reachable = False
        self.since = datetime.now(UTC)  # when `reachable` last changed
        self.problem = "not connected yet"  # why it is unreachable, in ssh's or agentd's words

    async def open(self) -> RemoteHost:
        await self._room.open()
        self._room.spawn(self._keep_linked(), f"link:{self.name}")
        return self

    async def close(self) -> None:
        await self._room.close()

    async def __aenter__(self) -> RemoteHost:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def link_status(self) -> LinkStatus:
        hello = self.hello
        return LinkStatus(reachable=self.reachable, tried=self._tried, since=self.since, problem=self.problem,
                          agentd=None if hello is None else hello.agentd,
                          hostname=None if hello is None else hello.hostname, clock_skew=self.clock_skew)

    # -- the link ---------------------------------------------------------------

    async def _keep_linked(self) -> None:
        delay = RETRY_FIRST
        while True:
            if await self._link_once():
                delay = RETRY_FIRST
            await self._pause(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def _pause(self, delay: float) -> None:
        """Wait `delay` before linking again, but no longer than RETRY_WANTED once a call is waiting for the link:
        a blip must not outlast the calls that wait for it (a start would fail) because the back-off grew."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            async with asyncio.timeout(delay):
                await self._wanted.wait()
        except TimeoutError:
            return
        await asyncio.sleep(max(0.0, min(delay, RETRY_WANTED) - (loop.time() - began)))

    async def _link_once(self) -> bool:
        """Make the link, serve on it until it fails; whether it ever came up."""
        link: Link | None = None
        came_up = False
        try:
            async with asyncio.timeout(self.call_timeout):
                link = await self._connect()
                channel = Channel(link.reader, link.writer, self.name)
                self.hello = await channel.hello(self._scheduler, self.call_timeout)
            async with asyncio.TaskGroup() as group:
                reading = group.create_task(channel.run(), name=f"read:{self.name}")
                self.clock_skew = await channel.clock_skew(self.call_timeout)
                came_up = True
                self._set_reachable(True, "")
                await self._set_channel(channel)
                pinging = group.create_task(self._ping(channel), name=f"ping:{self.name}")
                await asyncio.wait([reading, pinging], return_when=asyncio.FIRST_COMPLETED)
                pinging.cancel()
                if not reading.done():  # a ping went unanswered: the link is dead, though its pipe is open
                    channel.close(f"agentd answered no ping within {self._ping_every:g} s")
                    reading.cancel()
            self._lost(link, channel.why_lost or "the link ended")
        except (OSError, HostError, TimeoutError) as exc:
            self._lost(link, str(exc) or "no answer in time")
        finally:
            await self._set_channel(None)
            if link is not None:
                status = await link.close()
                self._explained(link, status)
        return came_up

    async def _set_channel(self, channel: Channel | None) -> None:
        async with self._changed:
            self._channel = channel
            self._changed.notify_all()

    def _lost(self, link: Link | None, reason: str) -> None:
        said = " | ".join(line for line in link.said().splitlines() if line) if link is not None else ""
        self._set_reachable(False, f"{reason}: {said}" if said else reason)

    def _explained(self, link: Link, status: int | None) -> None:
        """Once the link's process has ended: its failure in the connect side's words, if it has better ones (a
        changed host key, with what to do) than ours."""
        if self.reachable or self._explain is None:
            return
        if why := self._explain(status, link.said()):
            self.problem = why

    def _set_reachable(self, reachable: bool, problem: str) -> None:
        self._tried = True
        if reachable != self.reachable:
            self.since = datetime.now(UTC)
            log.log(logging.INFO if reachable else logging.WARNING, "host %s %s%s", self.name,
                    "reachable" if reachable else "unreachable", f": {problem}" if problem else "",
                    extra={"action": "host_reachable" if reachable else "host_unreachable"})
        self.reachable, self.problem = reachable, problem

    async def _ping(self, channel: Channel) -> None:
        """Until a ping goes unanswered: the link is then dead, whatever TCP thinks."""
        while True:
            await asyncio.sleep(self._ping_every)
            try:
                await channel.call("ping", self._ping_every)
            except HostError:
                return

    async def _linked(self, deadline: float) -> Channel:
        """A link not known to be lost, waited for until `deadline` (loop time)."""
        def usable() -> bool:
            return self._channel is not None and not self._channel.lost

        self._waiting += 1
        self._wanted.set()
        try:
            async with asyncio.timeout_at(deadline), self._changed:
                await self._changed.wait_for(usable)
        except TimeoutError:
            raise HostError(f"host {self.name} unreachable since {self.since:%Y-%m-%d %H:%M:%S} UTC: "
                            f"{self.problem}") from None
        finally:
            self._waiting -= 1
            if not self._waiting:
                self._wanted.clear()
        assert self._channel is not None
        return self._channel

    async def _call(self, op: str, **args: Any) -> Any:
        """Ask agentd, asking again on a new link if this one was lost, until the call timeout. Only for what may
        be asked twice: a start adopts the unit the first made."""
        deadline = asyncio.get_running_loop().time() + self.call_timeout
        while True:
            channel = await self._linked(deadline)
            try:
                return await channel.call(op, max(0.1, deadline - asyncio.get_running_loop().time()), **args)
            except ConnectionLost:
                if asyncio.get_running_loop().time() >= deadline:
                    raise
            except RunNotFound as exc:
                raise self._not_found(exc) from None

    # -- the Host protocol ------------------------------------------------------

    def _far(self, run_id: RunId) -> RunId:
        """The run's id on the host."""
        return RunId(f"{self._scheduler}-{run_id}")

    def _near(self, far_id: str) -> RunId | None:
        """The run id of ours that the host's `far_id` is, if it is one of ours."""
        prefix = f"{self._scheduler}-"
        return RunId(far_id[len(prefix):]) if far_id.startswith(prefix) else None

    def _ours(self, far_id: str, where: str) -> RunId:
        run_id = self._near(far_id)
        if run_id is None:
            raise HostError(f"{self.name}: {where} answered for {far_id!r}, a run of another scheduler")
        return run_id

    async def start(self, spec: RunSpec, *, at: datetime | None = None) -> StartResult:
        far = dataclasses.replace(spec, run_id=self._far(spec.run_id))
        plain = await self._call("start", spec=to_plain(far), at=None if at is None else to_plain(at))
        result = from_plain(StartResult, plain, f"{self.name}: start")
        return dataclasses.replace(result, run_id=self._ours(result.run_id, "start"))

    async def stop(self, run_id: RunId) -> None:
        await self._call("stop", run_id=self._far(run_id))

    async def kill(self, run_id: RunId, signal: str | int) -> None:
        await self._call("kill", run_id=self._far(run_id), signal=signal)

    async def list(self) -> list[UnitState]:
        """The units of this scheduler's runs on the host (another scheduler's are not ours to see)."""
        plain = await self._call("list")
        if not isinstance(plain, list):
            raise HostError(f"{self.name}: list answered {type(plain).__name__}, not a list")
        units = [from_plain(UnitState, unit, f"{self.name}: list[{i}]") for i, unit in enumerate(plain)]
        return [dataclasses.replace(unit, run_id=run_id) for unit in units
                if (run_id := self._near(unit.run_id)) is not None]

    async def output_gaps(self, run_id: RunId, started: datetime) -> tuple[str, ...]:
        plain = await self._call("output_gaps", run_id=self._far(run_id), started=to_plain(started))
        if not isinstance(plain, list) or not all(isinstance(gap, str) for gap in plain):
            raise HostError(f"{self.name}: output_gaps answered {plain!r}")
        return tuple(plain)

    async def events(self, run_id: RunId, *, since: datetime | None = None) -> AsyncIterator[HostEvent]:
        """Asked again on each new link until Finished; Started is told once."""
        told_started = False
        far = self._far(run_id)
        async for plain in self._resumed("events", lambda: {"run_id": far, "since": to_plain(since)}):
            where = f"{self.name}: events of {run_id}"
            event: HostEvent = (from_plain(Finished, plain, where) if "result" in plain
                                else from_plain(Started, plain, where))
            if isinstance(event, Started):
                if told_started:
                    continue
                told_started = True
            yield dataclasses.replace(event, run_id=self._ours(event.run_id, "events"))
            if isinstance(event, Finished):
                return

    async def output(self, run_id: RunId, *, follow: bool = False, after_cursor: str | None = None,
                     stream: Stream | None = None) -> AsyncGenerator[OutputRecord, None]:
        """Resumed after the last cursor read on each new link."""
        last = after_cursor

        def ask() -> dict[str, Any]:
            return {"run_id": self._far(run_id), "follow": follow, "after_cursor": last,
                    "stream": None if stream is None else stream.value}

        async for plain in self._resumed("output", ask):
            record = from_plain(OutputRecord, plain, f"{self.name}: output of {run_id}")
            last = record.cursor
            yield record

    async def _resumed(self, op: str, args: Callable[[], dict[str, Any]]) -> AsyncGenerator[Any, None]:
        """A stream asked for again, with `args()` as they are then, each time its link is lost."""
        while True:
            channel = await self._linked(asyncio.get_running_loop().time() + self.call_timeout)
            items = channel.stream(op, **args())
            try:
                async for item in items:
                    if not isinstance(item, dict):
                        raise HostError(f"{self.name}: {op} sent {type(item).__name__}, not an object")
                    yield item
                return
            except ConnectionLost:
                continue
            except RunNotFound as exc:
                raise self._not_found(exc) from None
            finally:
                await items.aclose()

    def _not_found(self, exc: RunNotFound) -> RunNotFound:
        """The host's RunNotFound, naming our run id."""
        return RunNotFound(self._near(exc.run_id) or exc.run_id)
