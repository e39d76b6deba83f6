"""drain-streams, the ExecStopPost that holds a run's unit until journald has read its output, on a folder and a
socket of the test's own, standing in for journald's (the real one: tests/integration/test_output_complete.py)."""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from agentd.systemd.streams import DRAIN_SCRIPT, PERL
from tests.unit.agentd.systemd.test_streams import write_state

UNIT, IDENT, BARRIER = "apsis-r1.service", "apsis-r1", "apsis-drain-0123456789abcdef"
GONE_WITHIN = 10.0  # seconds for the script to see a change and exit: generous, for a loaded machine
STILL = 0.6  # seconds the script must still be waiting after what would wrongly end its wait


class Journald:
    """Takes in streams on its socket as journald does: a state file once the header is read, `delay` later."""

    def __init__(self, folder: Path, delay: float, before: list[tuple[str, str, str | None]]) -> None:
        self.folder = folder
        self.delay = delay
        self.before = before  # streams it takes in just before the first one opened on its socket (name, ident, unit)
        self.headers: list[list[str]] = []

    async def take_in(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = [(await reader.readline()).decode().rstrip("\n") for _ in range(7)]
        self.headers.append(header)
        await asyncio.sleep(self.delay)
        for name, ident, unit in self.before:
            write_state(self.folder, name, ident, unit)
        write_state(self.folder, "9:999", header[0], None)
        await reader.read()  # held open until the script exits
        writer.close()


def in_loop(test: Callable[[Path], Coroutine[Any, Any, None]]) -> Callable[[Path], None]:
    """The test run in an event loop of its own (the folder fixture passed through)."""
    @functools.wraps(test)
    def run(folder: Path) -> None:
        asyncio.run(test(folder))
    return run


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    streams = tmp_path / "streams"
    streams.mkdir()
    return streams


async def drain(folder: Path, socket: Path, centiseconds: int = 3000) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        PERL, DRAIN_SCRIPT, f"UNIT={UNIT}", f"IDENTIFIER={IDENT}", BARRIER, str(centiseconds), str(folder),
        str(socket))


async def still_waiting(process: asyncio.subprocess.Process) -> bool:
    try:
        await asyncio.wait_for(process.wait(), STILL)
    except TimeoutError:
        return True
    return False


async def ends(process: asyncio.subprocess.Process) -> int:
    return await asyncio.wait_for(process.wait(), GONE_WITHIN)


async def serve(folder: Path, journald: Journald) -> tuple[asyncio.AbstractServer, Path]:
    socket = folder.parent / "stdout"
    return await asyncio.start_unix_server(journald.take_in, str(socket)), socket


@in_loop
async def test_it_waits_until_journald_has_read_the_run_s_stream_to_its_end(folder: Path) -> None:
    stream = write_state(folder, "9:1", IDENT, UNIT)
    journald = Journald(folder, 0.0, [])
    server, socket = await serve(folder, journald)
    async with server:
        process = await drain(folder, socket)
        assert await still_waiting(process)
        stream.unlink()
        assert await ends(process) == 0
    assert journald.headers == [[BARRIER, "", "6", "0", "0", "0", "0"]]  # systemd-cat's header: journald takes it


@in_loop
async def test_a_split_run_s_streams_are_known_by_its_identifier(folder: Path) -> None:
    stream = write_state(folder, "9:1", IDENT, None)
    server, socket = await serve(folder, Journald(folder, 0.0, []))
    async with server:
        process = await drain(folder, socket)
        assert await still_waiting(process)
        stream.unlink()
        assert await ends(process) == 0


@in_loop
async def test_a_stream_journald_has_not_taken_in_yet_is_waited_for(folder: Path) -> None:
    """No state file yet for the run's stream: only the barrier, taken in after it, says the run has none left."""
    journald = Journald(folder, 0.5, [("9:1", IDENT, UNIT)])
    server, socket = await serve(folder, journald)
    async with server:
        process = await drain(folder, socket)
        assert await still_waiting(process)  # the barrier is not known: the run's stream may come
        assert await still_waiting(process)  # it came, with the barrier: open
        (folder / "9:1").unlink()
        assert await ends(process) == 0


@in_loop
async def test_other_runs_streams_are_not_waited_for(folder: Path) -> None:
    write_state(folder, "9:1", "apsis-r10", "apsis-r10.service")
    write_state(folder, "9:2", "backup", "cron.service")
    server, socket = await serve(folder, Journald(folder, 0.0, []))
    async with server:
        assert await ends(await drain(folder, socket)) == 0


@in_loop
async def test_the_wait_ends_at_its_bound_with_the_stream_still_open(folder: Path) -> None:
    write_state(folder, "9:1", IDENT, UNIT)
    server, socket = await serve(folder, Journald(folder, 0.0, []))
    async with server:
        process = await drain(folder, socket, centiseconds=100)
        assert await still_waiting(process)
        assert await ends(process) == 0


@in_loop
async def test_without_journald_s_socket_only_the_run_s_streams_are_waited_for(folder: Path) -> None:
    stream = write_state(folder, "9:1", IDENT, UNIT)
    process = await drain(folder, folder.parent / "no-such-socket")
    assert await still_waiting(process)
    stream.unlink()
    assert await ends(process) == 0
