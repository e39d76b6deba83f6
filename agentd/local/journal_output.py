"""A run's output, read from the journal: after the fact, or followed live until the run has ended and all of
it is in (journald stores a stream's lines after the process has written them, sometimes seconds later).
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from agentd.host import OutputRecord
from agentd.spec import Stream
from agentd.systemd import journal, trust
from agentd.systemd.trust import OutputSource
from agentd.systemd.units import STREAM_PRIORITY
from agentd.types import RunId

# Lines alike read at once look like a copy journald wrote into its next file; whether one starts a file is
# asked of the journal's headers, at most once per HEADS_FRESH seconds, each look within HEADS_WITHIN.
HEADS_FRESH = 1.0
HEADS_WITHIN = 30.0
QUIET_END = 1.0  # without journalctl --sync (unprivileged): output is complete after this much silence
FOLLOW_AHEAD = 1024  # records read ahead of a follower: a client that reads slowly slows journalctl, not memory


class JournalOutput:
    def __init__(self, *, user_manager: bool, until_finished: Callable[[RunId], Coroutine[Any, Any, None]]) -> None:
        self.user_manager = user_manager
        self._until_finished = until_finished

    async def read(
        self, run_id: RunId, source: OutputSource, *, follow: bool = False, after_cursor: str | None = None,
        stream: Stream | None = None,
    ) -> AsyncGenerator[OutputRecord, None]:
        """The run's output, the lines `source` says are its own, each once; with follow, until the run has ended
        and all of it is read.

        journald (252) writes a line twice when the journal file it writes it to fills up as it does: the copy
        that starts the next file has the same timestamps and content hash (journal.same_entry), and is skipped.
        """
        last = None
        heads: frozenset[int] = frozenset()
        looked = -HEADS_FRESH
        loop = asyncio.get_running_loop()
        async with contextlib.aclosing(self._read(run_id, source, follow=follow, after_cursor=after_cursor,
                                                  stream=stream)) as records:
            async for record in records:
                copy = last is not None and journal.same_entry(record.cursor, last)
                last = record.cursor
                if copy:
                    number = journal.seqnum(record.cursor)
                    if number not in heads and loop.time() - looked >= HEADS_FRESH:
                        async with asyncio.timeout(HEADS_WITHIN):
                            heads = await journal.file_heads(user=self.user_manager)
                        looked = loop.time()
                    if number in heads:
                        continue
                yield record

    async def _read(
        self, run_id: RunId, source: OutputSource, *, follow: bool, after_cursor: str | None, stream: Stream | None,
    ) -> AsyncGenerator[OutputRecord, None]:
        """read(), each record as journalctl gives it.

        `stream`: a split run's stdout or stderr, told apart by the PRIORITY systemd-cat gave each (units.py).
        """
        only = [f"PRIORITY={STREAM_PRIORITY[stream]}"] if stream is not None else []
        matches = trust.output_matches(source, user_manager=self.user_manager, only=only)
        if not follow:
            await journal.sync()
            async for entry in self._read_output(source, matches, after_cursor):
                yield entry
            return
        ended = asyncio.create_task(self._until_finished(run_id), name=f"output-end:{run_id}")
        queue: asyncio.Queue[OutputRecord] = asyncio.Queue(FOLLOW_AHEAD)

        async def pump() -> None:
            async for record in self._read_output(source, matches, after_cursor, follow=True):
                await queue.put(record)  # a record it held when cancelled is read again by _drain

        follower = asyncio.create_task(pump(), name=f"output-follow:{run_id}")
        cursor = after_cursor
        try:
            while not ended.done() or not queue.empty():
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, ended}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    record = getter.result()
                    cursor = record.cursor
                    yield record
                else:
                    getter.cancel()
            ended.result()  # RunNotFound surfaces here
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            while not queue.empty():
                record = queue.get_nowait()
                cursor = record.cursor
                yield record
            async for record in self._drain(source, matches, cursor):
                yield record
        finally:
            for task in (ended, follower):
                task.cancel()
            await asyncio.gather(ended, follower, return_exceptions=True)

    async def _drain(self, source: OutputSource, matches: Sequence[str], cursor: str | None
                     ) -> AsyncIterator[OutputRecord]:
        """What journald has not yet stored of an ended run: synced, or waited out when we may not sync."""
        if await journal.sync():
            async for record in self._read_output(source, matches, cursor):
                yield record
            return
        quiet_since = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - quiet_since < QUIET_END:
            got = False
            async for record in self._read_output(source, matches, cursor):
                cursor, got = record.cursor, True
                yield record
            if got:
                quiet_since = asyncio.get_running_loop().time()
            await asyncio.sleep(0.2)

    async def _read_output(
        self, source: OutputSource, matches: Sequence[str], after_cursor: str | None, *, follow: bool = False
    ) -> AsyncIterator[OutputRecord]:
        fields = f"{journal.OUTPUT_FIELDS},{trust.PROVENANCE_FIELDS}"
        async for entry in journal.read(matches, follow=follow, after_cursor=after_cursor, output_fields=fields,
                                        user=self.user_manager):
            if not trust.is_output(entry, source, user_manager=self.user_manager):
                continue
            priority = entry.get("PRIORITY")
            pid = entry.get("_PID")
            yield OutputRecord(
                cursor=entry["__CURSOR"],
                time=journal.entry_time(entry),
                data=journal.message_bytes(entry) + journal.LINE_ENDINGS.get(entry.get("_LINE_BREAK"), b""),
                priority=int(priority) if priority is not None else None,
                pid=int(pid) if pid is not None else None,
            )
