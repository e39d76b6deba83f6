"""journald's open output streams: whose output it has not yet read to the end.

A unit's stdout and stderr reach journald through a stream socket, which
journald reads at its own pace, sometimes seconds behind the program. Each
line is rate-limited by the settings of the unit it came from, which journald
reads from a file PID 1 keeps only while the unit is loaded. A run's
transient unit is unloaded as soon as it ends and is released; the lines
still queued in its stream are then taken under journald's global default
(a burst of 10,000 per 30 s, scaled by free space) and the rest are dropped
without a word. So a run's unit is kept loaded until journald has read its
streams to their end (docs/operations.md, "Every output line kept").

journald keeps a state file for each open stream (to take it over again
after a restart), holding the `UNIT=` and `IDENTIFIER=` the stream was opened
with, and removes it once it has read the stream to its end. The files are
journald's own ("do not parse"): only whether one names a run is read here,
and only root may read them.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

STREAMS_DIR = "/run/systemd/journal/streams"
DRAIN_SCRIPT = str(Path(__file__).with_name("drain-streams"))
PERL = "/usr/bin/perl"  # perl-base, Essential in Debian: drain-streams runs on every run, and starts fast
# The longest an ended run's end is held back for journald to read its output: in its unit (drain-streams, as
# long as its stop timeout allows), then in apsisd before it tells the run's end.
DRAIN_WITHIN = 120.0
FRESH = 0.05  # seconds a look at the folder is reused: waiters of many runs share one listing
_KEYS = ("UNIT=", "IDENTIFIER=")
_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
            "\\": "\\\\", '"': '\\"', "'": "\\'"}


def c_escape(text: str) -> str:
    """A value as journald writes it in a stream's state file (systemd's cescape)."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif byte < 0x20 or byte >= 0x7F:
            out.append(f"\\x{byte:02x}")  # cescape writes non-ASCII bytes as octal or hex: never in our names
        else:
            out.append(char)
    return "".join(out)


def stream_keys(unit: str, identifier: str) -> tuple[str, str]:
    """The state-file lines that mark a stream as a run's: PID 1 opens its streams with the unit's name;
    systemd-cat (a split run's) with the run's own identifier only."""
    return f"UNIT={c_escape(unit)}", f"IDENTIFIER={c_escape(identifier)}"


def drain_within(grace_period: float) -> float:
    """How long a run's unit may wait for journald after its end: all the time its stop timeout leaves (systemd
    would kill the wait, and call the run timed out), less a margin; 0 (no stop timeout) is no bound of systemd's."""
    if grace_period == 0:
        return DRAIN_WITHIN
    return min(DRAIN_WITHIN, max(0.0, grace_period - max(0.5, grace_period / 10)))


def drain_command(unit: str, identifier: str, within: float) -> list[str]:
    """The run's ExecStopPost argv: drain-streams, told which streams are the run's and for how long to wait."""
    barrier = "apsis-drain-" + hashlib.sha256(unit.encode()).hexdigest()[:16]  # nothing in it to escape
    return [PERL, DRAIN_SCRIPT, *stream_keys(unit, identifier), barrier, str(round(within * 100))]


class OpenStreams:
    """The streams journald has open, by their UNIT= and IDENTIFIER= lines.

    A state file does not change while its stream is open (journald writes it
    whole, by rename, when the stream's header is in), so each is read once.
    """

    def __init__(self, directory: str = STREAMS_DIR) -> None:
        self.directory = directory
        self._seen: dict[tuple[str, int], frozenset[str]] = {}
        self._open: set[str] = set()
        self._looked = -FRESH

    def readable(self) -> bool:
        """Whether this process may read journald's state files (root): else it cannot tell."""
        return os.access(self.directory, os.R_OK | os.X_OK) and os.geteuid() == 0

    def any_open(self, keys: Iterable[str], *, now: bool = False) -> bool:
        """Whether a stream marked by one of `keys` is still open (journald has not read it to its end), as of a
        look at most FRESH seconds old; with `now`, as of a look taken now (a stale look says open of a stream
        that has closed since)."""
        if now or time.monotonic() - self._looked >= FRESH:
            self._look()
        return not self._open.isdisjoint(keys)

    def _look(self) -> None:
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            entries = []
        seen = {}
        for entry in entries:
            # The name is the stream socket's inode, which a later stream may get again: the file's own inode
            # (a new one for each file journald writes) tells a new stream from one read before.
            key = (entry.name, entry.inode())
            keys = self._seen.get(key)
            if keys is None:
                keys = self._read(entry.path)
                if keys is None:
                    continue  # gone between the listing and the read: closed
            seen[key] = keys
        self._seen = seen
        self._open = set().union(*seen.values())
        self._looked = time.monotonic()

    def _read(self, path: str) -> frozenset[str] | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as file:
                return frozenset(line.rstrip("\n") for line in file if line.startswith(_KEYS))
        except FileNotFoundError:
            return None


async def wait_closed(streams: OpenStreams, keys: Iterable[str], within: float) -> bool:
    """Wait until journald has read every stream marked by `keys` to its end; False if one is still open after
    `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while streams.any_open(keys):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(FRESH)
    return True
