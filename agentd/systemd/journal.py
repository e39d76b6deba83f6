"""Reading and writing the journal: run output, PID 1's records of a unit, apsis's own notes.

Reads go through `journalctl -o json --all` in a subprocess: asynchronous for
free, follows and resumes by cursor, and renders a message that is not UTF-8
as its bytes. Writes use journald's native datagram protocol directly.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from agentd.errors import HostError

log = logging.getLogger(__name__)

JOURNAL_SOCKET = "/run/systemd/journal/socket"
# How a record's line ended (_LINE_BREAK); a record without one ended in \n.
LINE_ENDINGS = {None: b"\n", "nul": b"\0", "line-max": b"", "eof": b"", "pid-change": b""}
JOURNAL_DROPPED = "a596d6fe7bfa4994828e72309e95d61e"  # SD_MESSAGE_JOURNAL_DROPPED: journald suppressed lines
OUTPUT_FIELDS = "MESSAGE,_LINE_BREAK,PRIORITY,_PID"
# The longest line of journalctl's JSON read, and half of what is held of it unread: a record of a 1 MiB line (a
# LineMax raised far past journald's 48K) written as byte values fits; a reader behind holds 8 MiB at most.
JSON_LINE_MAX = 1 << 22
# A journalctl that answers nothing for this long (seconds) while reading what is there, or syncing, is stuck:
# the call fails (HostError) and its caller tries again, rather than wait for ever.
STALL = 60.0


def message_bytes(entry: Mapping[str, Any]) -> bytes:
    """MESSAGE as the bytes written: journalctl gives a string, or a list of byte values."""
    message = entry.get("MESSAGE")
    if message is None:
        return b""
    if isinstance(message, list):
        return bytes(message)
    return str(message).encode()


def _cursor_fields(cursor: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in cursor.split(";") if "=" in part)


def same_entry(cursor: str, other: str) -> bool:
    """Whether two cursors may name copies of one entry: the same boot, monotonic and wall-clock time to the µs
    and hash of all its fields. journald (252) writes an entry again at the start of a new file when the one it
    was writing it to filled up; the copies differ only in sequence number. Two lines alike that journald read
    at once look the same too: only a copy starts a file (file_heads)."""
    mine, theirs = _cursor_fields(cursor), _cursor_fields(other)
    keys = ("b", "m", "t", "x")
    return all(mine.get(key) for key in keys) and all(mine.get(key) == theirs.get(key) for key in keys)


def seqnum(cursor: str) -> int | None:
    """The entry's sequence number, from its cursor."""
    value = _cursor_fields(cursor).get("i", "")
    try:
        return int(value, 16)
    except ValueError:
        return None


async def file_heads(*, user: bool = False) -> frozenset[int]:
    """The sequence numbers that start a journal file (`journalctl --header`, which reads headers only)."""
    argv = ["journalctl", "--header", *(["--user"] if user else [])]
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(STALL):
            out, _ = await proc.communicate()
    except TimeoutError:
        raise HostError(f"journalctl --header gave no answer within {STALL:g} s") from None
    finally:
        await _reap(proc)
    heads = set()
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("Head sequential number:"):
            heads.add(int(line.split(":", 1)[1].split()[0]))
    return frozenset(heads)


def entry_time(entry: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, tz=UTC)


async def read(
    matches: Sequence[str],
    *,
    follow: bool = False,
    after_cursor: str | None = None,
    output_fields: str | None = None,
    user: bool = False,
    since: datetime | None = None,
) -> AsyncGenerator[dict[str, Any], None]:
    """Journal entries matching all of `matches` (FIELD=value), oldest first; from `since` on (to the µs)."""
    argv = ["journalctl", "--output=json", "--all", "--no-pager", "--quiet"]
    if since is not None:
        argv.append(f"--since=@{since.timestamp():.6f}")
    if user:
        argv.append("--user")
    if follow:
        argv += ["--follow", "--lines=all"]
    if after_cursor:
        argv.append(f"--after-cursor={after_cursor}")
    if output_fields:
        argv.append(f"--output-fields={output_fields}")
    argv += list(matches)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, limit=JSON_LINE_MAX,
    )
    assert proc.stdout is not None and proc.stderr is not None
    # Following, a quiet journal is no fault; reading what is there, a journalctl silent for STALL is stuck.
    stall = None if follow else STALL
    try:
        while True:
            try:
                async with asyncio.timeout(stall):
                    line = await proc.stdout.readline()
                    if not line:
                        err = await proc.stderr.read()
                        code = await proc.wait()
            except TimeoutError:
                raise HostError(f"journalctl gave nothing for {STALL:g} s while reading the journal") from None
            if not line:
                break
            if line.strip():
                yield json.loads(line)
        if code != 0:  # 1 is also what a bad cursor gives: never "no output"
            raise HostError(f"journalctl failed: {err.decode(errors='replace').strip() or code}")
    finally:
        await _reap(proc)


async def oldest_time(*, user: bool = False) -> datetime | None:
    """When the oldest record the journal still holds was written (what rotation has not yet removed); None for
    an empty journal. Only the first record is read."""
    async with contextlib.aclosing(read([], output_fields="__REALTIME_TIMESTAMP", user=user)) as entries:
        async for entry in entries:
            return entry_time(entry)
    return None


async def suppressed(unit: str, *, since: datetime) -> int:
    """How many lines of the unit journald suppressed (rate limit) since then, as journald itself said: its own
    records (_TRANSPORT=driver, which no client can send) "Suppressed N messages from <unit>"."""
    total = 0
    matches = [f"MESSAGE_ID={JOURNAL_DROPPED}", "_TRANSPORT=driver"]
    async for entry in read(matches, since=since, output_fields="MESSAGE,N_DROPPED"):
        if str(entry.get("MESSAGE", "")).endswith(f" from {unit}") and str(entry.get("N_DROPPED", "")).isdigit():
            total += int(entry["N_DROPPED"])
    return total


async def sync() -> bool:
    """Make journald store everything written so far; False where we may not (not root)."""
    if os.geteuid() != 0:
        return False
    proc = await asyncio.create_subprocess_exec(
        "journalctl", "--sync", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        async with asyncio.timeout(STALL):
            return await proc.wait() == 0
    except TimeoutError:
        raise HostError(f"journald did not store what was written within {STALL:g} s (journalctl --sync)") from None
    finally:
        await _reap(proc)


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """A journalctl left running (a reader closed early, a deadline passed) is killed and waited for."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def send(fields: Mapping[str, str]) -> None:
    """Write one record with these fields (journald's native protocol); best effort."""
    payload = bytearray()
    for key, value in fields.items():
        data = value.encode()
        if b"\n" in data:
            payload += key.encode() + b"\n" + len(data).to_bytes(8, "little") + data + b"\n"
        else:
            payload += key.encode() + b"=" + data + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(bytes(payload), JOURNAL_SOCKET)
    except OSError as exc:
        log.warning("could not write to the journal: %s", exc)
