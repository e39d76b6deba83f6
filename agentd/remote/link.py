"""A link to agentd: a process (ssh, or agentd itself in tests) whose stdin and stdout carry the protocol.

Its stderr is read as it comes (a full pipe would stall ssh) and its last
lines kept: when the link fails, they say why (a changed host key, a refused
key, no route), in ssh's own words.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from agentd.tasks import TaskRoom

log = logging.getLogger(__name__)

KEEP_LINES = 20  # lines of stderr kept to explain a failure
STOP_WITHIN = 5.0  # seconds for the process to exit once its stdin is closed, before it is killed
STDERR_WITHIN = 1.0  # seconds to read the rest of an ended process's stderr (a child of it may hold it open)


class Link(Protocol):
    """What carries the protocol to agentd and back."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def said(self) -> str:
        """What the link said about itself (a process's last stderr lines, one a line), to explain a failure."""
        ...

    async def close(self) -> int | None:
        """End the link; the process's exit status, if it is one."""
        ...


class ProcessLink:
    """A process whose stdin and stdout are the link."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        assert process.stdout is not None and process.stdin is not None and process.stderr is not None
        self.process = process
        self.reader: asyncio.StreamReader = process.stdout
        self.writer: asyncio.StreamWriter = process.stdin
        self.name = name
        self.stderr: collections.deque[str] = collections.deque(maxlen=KEEP_LINES)
        self._room = TaskRoom(f"link:{name}")
        self._stderr_read = self._room.spawn(self._read_stderr(process.stderr), f"stderr:{name}")

    @classmethod
    async def spawn(cls, argv: Sequence[str], name: str) -> ProcessLink:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            limit=2**20)
        return cls(process, name)

    async def _read_stderr(self, stderr: asyncio.StreamReader) -> None:
        while line := await stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.stderr.append(text)
            log.info("%s: %s", self.name, text, extra={"action": "link_stderr"})

    def said(self) -> str:
        """What the process said on stderr, its last lines."""
        return "\n".join(self.stderr)

    async def close(self) -> int | None:
        """End the process (stdin closed, then killed if it lingers)."""
        with contextlib.suppress(OSError):
            self.writer.close()
        try:
            async with asyncio.timeout(STOP_WITHIN):
                status = await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            status = await self.process.wait()
        with contextlib.suppress(TimeoutError):  # its last words, read before said() is asked why it ended
            async with asyncio.timeout(STDERR_WITHIN):
                await asyncio.shield(self._stderr_read)
        await self._room.close()
        return status
