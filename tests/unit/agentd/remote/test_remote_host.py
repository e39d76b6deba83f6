"""RemoteHost and agentd's Server, joined in this process by socket pairs a test can cut, over FakeHost.

What the link's loss must not cost: an event told twice or never, a line of
output doubled or skipped, a run started twice. The same pair over a real
agentd and systemd: tests/contract/test_host.py ("remote").
"""
from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import Any

import pytest

from agentd.errors import HostError, RunNotFound, SpecError
from agentd.host import Finished, HostEvent, Started
from agentd.protocol import frames
from agentd.protocol.frames import ProtocolError
from agentd.protocol.messages import Hello
from agentd.remote.channel import MAX_BACKLOG, Channel
from agentd.remote.host import RemoteHost
from agentd.serve import Server
from agentd.spec import RunSpec
from agentd.types import RunId
from tests.fakes.host import FakeHost

SKEW = 42.0  # seconds the far side's clock is ahead


def hello(version: int) -> Hello:
    return Hello(protocol=version, agentd="test", hostname="far", machine_id="m", boot_id="b", user="root",
                 manager="system")


async def one_way() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A pipe's two ends as streams: closing the writer ends this pipe only (a socket pair's writer closes both
    ways, so a reader there would hear of a close that ssh's stdout never hears of)."""
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0))
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                        os.fdopen(write_fd, "wb", 0))
    return reader, asyncio.StreamWriter(transport, protocol, None, loop)


class PipeLink:
    """A Server over one end of a socket pair, the client's streams on the other."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 server_writer: asyncio.StreamWriter, serving: asyncio.Task[None]) -> None:
        self.reader, self.writer = reader, writer
        self._server_writer = server_writer
        self.serving = serving

    def said(self) -> str:
        return "cut by the test"

    def cut(self) -> None:
        self._server_writer.transport.abort()

    async def freeze(self) -> None:
        """agentd stops answering, its pipe left open: as a link that went dark with no error on this side."""
        self.serving.cancel()
        await asyncio.wait([self.serving])

    async def close(self) -> int | None:
        self.writer.close()
        self.serving.cancel()
        await asyncio.wait([self.serving])
        return None


class Far:
    """The far side: one FakeHost, served anew on each connection."""

    def __init__(self, host: FakeHost, *, pipes: bool = False) -> None:
        self.host = host
        self.pipes = pipes  # two pipes, as a process's stdin and stdout, rather than one socket pair
        self.links: list[PipeLink] = []
        self.refusing: str | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def connect(self) -> PipeLink:
        if self.refusing is not None:
            raise OSError(self.refusing)
        if self.pipes:
            (far_reader, writer), (reader, far_writer) = await one_way(), await one_way()
        else:
            near, far = socket.socketpair()
            reader, writer = await asyncio.open_unix_connection(sock=near)
            far_reader, far_writer = await asyncio.open_unix_connection(sock=far)
        server = Server(self.host, far_reader, far_writer, hello, clock=lambda: time.time() + SKEW)
        serving = asyncio.get_running_loop().create_task(server.serve(), name="agentd-under-test")
        self.links.append(PipeLink(reader, writer, far_writer, serving))
        return self.links[-1]

    def cut(self) -> None:
        self.links[-1].cut()


def remote(test: Callable[[RemoteHost, Far], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run the test with a RemoteHost linked to a fresh Far, under a deadline."""
    def run() -> None:
        async def main() -> None:
            far = Far(FakeHost())
            async with asyncio.timeout(20), RemoteHost("far", far.connect, scheduler="near", call_timeout=3) as host:
                await test(host, far)

        asyncio.run(main())

    run.__name__ = test.__name__
    return run


def waiting(run_id: str) -> RunSpec:
    return RunSpec(run_id=RunId(run_id), argv=("/bin/wait",))


async def next_event(events: AsyncIterator[HostEvent]) -> HostEvent:
    return await anext(events)


@remote
async def test_hello_tells_who_the_far_side_is_and_how_far_its_clock_is(host: RemoteHost, far: Far) -> None:
    await host.list()
    assert host.reachable and host.hello is not None and host.hello.hostname == "far"
    assert host.clock_skew == pytest.approx(SKEW, abs=1.0)


@remote
async def test_a_runs_events_go_on_across_a_cut_link_started_told_once(host: RemoteHost, far: Far) -> None:
    await host.start(waiting("r1"))
    events = host.events(RunId("r1"))
    assert isinstance(await next_event(events), Started)
    far.cut()
    far.host.finish(RunId("near-r1"), exit_code=3)
    finished = await next_event(events)
    assert isinstance(finished, Finished) and finished.exit_code == 3
    assert len(far.links) == 2


@remote
async def test_output_resumes_after_the_last_line_read_across_a_cut(host: RemoteHost, far: Far) -> None:
    await host.start(waiting("r1"))
    for i in range(3):
        far.host.write(RunId("near-r1"), f"line {i}\n".encode())
    read: list[bytes] = []
    output = host.output(RunId("r1"), follow=True)
    read.append((await anext(output)).data)
    read.append((await anext(output)).data)
    far.cut()
    for i in range(3, 5):
        far.host.write(RunId("near-r1"), f"line {i}\n".encode())
    far.host.finish(RunId("near-r1"))
    read.extend([record.data async for record in output])
    assert read == [f"line {i}\n".encode() for i in range(5)]


@remote
async def test_a_start_whose_answer_was_lost_is_adopted_not_started_twice(host: RemoteHost, far: Far) -> None:
    original = far.host.start

    async def start_then_cut(spec: RunSpec, *, at: datetime | None = None) -> Any:
        result = await original(spec, at=at)
        if len(far.links) == 1:
            far.cut()  # the unit is made; its answer never arrives
        return result

    far.host.start = start_then_cut  # type: ignore[method-assign]
    result = await host.start(waiting("r1"))
    assert result.adopted and len(far.links) == 2
    assert list(far.host.runs) == [RunId("near-r1")]


@remote
async def test_with_no_link_a_call_says_since_when_and_why(host: RemoteHost, far: Far) -> None:
    await host.list()
    far.refusing = "No route to host"
    far.cut()
    with pytest.raises(HostError, match=r"host far unreachable since \d{4}-\d\d-\d\d .* UTC: .*No route to host"):
        await host.list()
    assert not host.reachable
    far.refusing = None
    assert await host.list() == []  # the link is made again on its own
    assert host.reachable


def test_an_unanswered_ping_ends_a_link_whose_pipe_stays_open() -> None:
    async def main() -> None:
        far = Far(FakeHost(), pipes=True)
        async with asyncio.timeout(5), RemoteHost("far", far.connect, scheduler="near", call_timeout=3,
                                                        ping_every=0.2) as host:
            await host.start(waiting("r1"))
            events = host.events(RunId("r1"))
            assert isinstance(await next_event(events), Started)
            await far.links[-1].freeze()
            far.host.finish(RunId("near-r1"), exit_code=2)
            finished = await next_event(events)  # told on the next link: the silent one was given up
            assert isinstance(finished, Finished) and finished.exit_code == 2
            assert len(far.links) == 2

    asyncio.run(main())


class RefusedLink:
    """A link whose process refused at once (as ssh does a changed host key): nothing to read, its words said."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, words: str) -> None:
        self.reader, self.writer, self.words = reader, writer, words

    def said(self) -> str:
        return self.words

    async def close(self) -> int | None:
        self.writer.close()
        return 255


def test_the_connect_sides_explanation_names_why_the_link_failed() -> None:
    told: list[tuple[int | None, str]] = []

    def explain(status: int | None, said: str) -> str | None:
        told.append((status, said))
        return "host far: the SSH host key of far has changed" if "CHANGED" in said else None

    async def main() -> None:
        far = Far(FakeHost())
        refusing: list[str] = []

        async def connect() -> PipeLink | RefusedLink:
            if not refusing:
                return await far.connect()
            near, gone = socket.socketpair()
            gone.close()
            reader, writer = await asyncio.open_unix_connection(sock=near)
            return RefusedLink(reader, writer, refusing[0])

        async with asyncio.timeout(20), RemoteHost("far", connect, scheduler="near", call_timeout=3,
                                                         explain=explain) as host:
            await host.list()
            refusing.append("@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @\nHost key verification failed.")
            far.cut()
            with pytest.raises(HostError, match=r"unreachable since .* UTC: host far: the SSH host key of far has "
                                                r"changed$"):
                await host.list()
            assert not host.reachable and (255, refusing[0]) in told
            refusing[0] = "ssh: something else\nand more"
            async with asyncio.timeout(5):  # explain has nothing to say of it: RemoteHost's own words, on one line
                while not host.problem.endswith(": ssh: something else | and more"):
                    await asyncio.sleep(0.01)

    asyncio.run(main())


@remote
async def test_the_far_side_s_refusals_arrive_as_themselves(host: RemoteHost, far: Far) -> None:
    with pytest.raises(SpecError) as refused:
        await host.start(RunSpec(run_id=RunId("r1"), argv=()))
    assert refused.value.field == "argv"
    with pytest.raises(RunNotFound) as not_found:
        await host.stop(RunId("nothing"))
    assert not_found.value.run_id == "nothing"


@remote
async def test_an_unknown_request_is_refused_and_the_link_goes_on(host: RemoteHost, far: Far) -> None:
    await host.list()
    channel = host._channel
    assert channel is not None
    with pytest.raises(HostError, match="unknown request 'reboot'"):
        await channel.call("reboot", 2)
    assert await host.list() == [] and len(far.links) == 1


def test_a_reader_that_falls_behind_loses_its_stream_not_the_link() -> None:
    async def main() -> None:
        near, far = socket.socketpair()
        reader, writer = await asyncio.open_unix_connection(sock=near)
        far_reader, far_writer = await asyncio.open_unix_connection(sock=far)
        channel = Channel(reader, writer, "far")
        async with asyncio.TaskGroup() as group:
            running = group.create_task(channel.run(), name="channel")
            stream = channel.stream("output", run_id="r1")
            asked = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(0.05)
            request = await frames.read(far_reader)
            assert request is not None
            for _ in range(MAX_BACKLOG + 5):
                far_writer.write(frames.encode({"id": request["id"], "items": [{"n": 1}]}))
            far_writer.write(frames.encode({"id": 99, "ok": None}))
            await far_writer.drain()
            await asyncio.sleep(0.1)
            assert await asked == {"n": 1}
            with pytest.raises(HostError, match=f"fell {MAX_BACKLOG} frames behind"):
                async for _ in stream:
                    pass
            far_writer.close()
            await running

    asyncio.run(main())


async def served() -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Server]:
    """A Server on one end of a socket pair, the test's streams on the other."""
    near, far = socket.socketpair()
    reader, writer = await asyncio.open_unix_connection(sock=near)
    far_reader, far_writer = await asyncio.open_unix_connection(sock=far)
    return reader, writer, Server(FakeHost(), far_reader, far_writer, hello)


def test_a_client_speaking_no_common_version_is_told_and_refused() -> None:
    async def main() -> None:
        reader, writer, server = await served()
        writer.write(frames.encode({"op": "hello", "protocol": [99]}))
        with pytest.raises(ProtocolError, match="no protocol version in common"):
            await server.serve()
        answer = await frames.read(reader)
        assert answer is not None and "speaks protocol versions [1]" in answer["error"]["message"]

    asyncio.run(main())


def test_a_request_without_an_id_ends_the_connection() -> None:
    async def main() -> None:
        _reader, writer, server = await served()
        writer.write(frames.encode({"op": "hello", "protocol": [1]}) + frames.encode({"op": "list"}))
        with pytest.raises(ProtocolError, match="without an integer id"):
            await server.serve()

    asyncio.run(main())


def test_two_schedulers_on_one_host_never_adopt_each_others_runs() -> None:
    async def main() -> None:
        far = Far(FakeHost())
        async with asyncio.timeout(20), RemoteHost("far", far.connect, scheduler="one", call_timeout=3) as one, \
                RemoteHost("far", far.connect, scheduler="two", call_timeout=3) as two:
            assert not (await one.start(waiting("r1"))).adopted
            assert not (await two.start(waiting("r1"))).adopted
            assert sorted(far.host.runs) == ["one-r1", "two-r1"]
            assert [u.run_id for u in await one.list()] == ["r1"]
            far.host.finish(RunId("two-r1"), exit_code=5)
            finished = [event async for event in two.events(RunId("r1"))][-1]
            assert isinstance(finished, Finished) and finished.run_id == "r1" and finished.exit_code == 5
            assert [u.run_id for u in await one.list()] == ["r1"] and await two.list() == []

    asyncio.run(main())


def test_a_scheduler_identity_is_plain_letters_and_digits() -> None:
    async def connect() -> PipeLink:
        raise AssertionError("never linked")

    for bad in ("", "a-b", "A", "x" * 33, "é"):
        with pytest.raises(ValueError, match="scheduler identity"):
            RemoteHost("far", connect, scheduler=bad)


@remote
async def test_a_call_waiting_for_the_link_cuts_the_back_off_short(host: RemoteHost, far: Far) -> None:
    """Down for 4 s, the link is tried again only every 4 s or more by then; a call that waits for it (3 s at most
    here) has it tried again within a second, and gets it once the host is back."""
    await host.list()
    far.refusing = "Network is unreachable"
    far.cut()
    await asyncio.sleep(4.0)  # attempts at +0.5, +1.5, +3.5 s; the next would be at +7.5 s
    far.refusing = None
    assert await host.list() == []
