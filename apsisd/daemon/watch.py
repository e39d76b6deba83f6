"""Noticing changes in the jobs folder: Linux inotify through ctypes, one report per burst of changes.

Debian 12 packages no maintained asyncio inotify library (pyinotify is
unmaintained and built on asyncore, gone in Python 3.12; watchfiles is not
packaged), and inotify is three system calls, so they are called here
directly and the descriptor is read from the event loop (`add_reader`).

Every folder under the watched ones is watched, new ones as they appear; a
watched folder's own parent is watched too, so a folder that is removed and
created again, or a symlink swapped to a new release, is followed. Only
changes that can change the jobs count: job and calendar files, and
folders; dot-files (`.#x.yaml`, `.x.yaml.swp`) and other names (`x.yaml~`,
README.md) are not. Changes are reported once they have stopped for
`debounce` seconds, or at the latest `max_delay` after the first of them.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import struct
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from apsisd.calendars.load import TEXT_SUFFIX
from apsisd.jobs.load import JOB_SUFFIX

log = logging.getLogger(__name__)

# The names the jobs loader reads (x.calendar.yaml ends in .yaml; .yml files it refuses, so they matter too).
WATCHED_SUFFIXES = (JOB_SUFFIX, ".yml", TEXT_SUFFIX)

# <sys/inotify.h>
IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x2, 0x4, 0x8
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF = 0x400, 0x800
IN_Q_OVERFLOW, IN_IGNORED, IN_ONLYDIR, IN_EXCL_UNLINK, IN_ISDIR = 0x4000, 0x8000, 0x1000000, 0x4000000, 0x40000000
FOLDER_MASK = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
               | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name
LIMITS_HELP = "raise the kernel's limits: sysctl fs.inotify.max_user_watches, fs.inotify.max_user_instances"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]


async def watch_folders(folders: Iterable[Path], *, debounce: float = 0.5, max_delay: float = 10.0
                        ) -> AsyncIterator[frozenset[Path]]:
    """The paths changed under `folders`, once per burst of changes, until the loop using it ends.

    If inotify cannot be used, a warning is logged and nothing is ever
    yielded (reloading on SIGHUP still works).
    """
    watcher = FolderWatcher(folders, debounce=debounce, max_delay=max_delay)
    try:
        async for changed in watcher:
            yield changed
    finally:
        watcher.close()


class FolderWatcher:
    """inotify watches on `folders` (recursively) and their parents, read by the running event loop."""

    def __init__(self, folders: Iterable[Path], *, debounce: float, max_delay: float) -> None:
        if max_delay < debounce:
            raise ValueError(f"max_delay ({max_delay}) must be at least debounce ({debounce})")
        self._loop = asyncio.get_running_loop()
        self._tops = frozenset(Path(folder).absolute() for folder in folders)
        self._debounce, self._max_delay = debounce, max_delay
        self._watched: dict[int, Path] = {}  # watch descriptor -> folder
        self._in_tree: set[int] = set()  # those that are under a top folder (the rest are parents)
        self._changed: set[Path] = set()
        self._first = self._last = 0.0
        self._wake = asyncio.Event()
        self._closed = False
        self._fd: int | None = None
        try:
            self._fd = _check(_libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))
            self._rescan()
        except OSError as exc:
            self._unavailable(exc)
            return
        self._loop.add_reader(self._fd, self._on_readable)

    def __aiter__(self) -> FolderWatcher:
        return self

    async def __anext__(self) -> frozenset[Path]:
        """The next burst's changed paths, once quiet (or max_delay after its first); StopAsyncIteration once
        closed."""
        while not self._changed and not self._closed:
            self._wake.clear()
            await self._wake.wait()
        while not self._closed and (delay := self._due() - self._loop.time()) > 0:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
        if self._closed:
            raise StopAsyncIteration
        changed, self._changed = frozenset(self._changed), set()
        return changed

    def close(self) -> None:
        """Stop watching: the reader removed, the descriptor (and so every watch) closed; iteration ends."""
        self._closed = True
        self._wake.set()
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    def _due(self) -> float:
        return min(self._last + self._debounce, self._first + self._max_delay)

    def _note(self, path: Path) -> None:
        now = self._loop.time()
        if not self._changed:
            self._first = now
        self._changed.add(path)
        self._last = now
        self._wake.set()

    def _on_readable(self) -> None:
        try:
            rescan = False
            for wd, mask, name in self._read():
                rescan |= self._handle(wd, mask, name)
            if rescan:
                self._rescan()
        except OSError as exc:  # a watch refused: the kernel's limit on watches reached
            self._unavailable(exc)

    def _read(self) -> list[tuple[int, int, str]]:
        """Every event queued, as (watch descriptor, mask, name)."""
        assert self._fd is not None
        events: list[tuple[int, int, str]] = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return events
            offset = 0
            while offset < len(data):
                wd, mask, _, size = EVENT.unpack_from(data, offset)
                offset += EVENT.size
                events.append((wd, mask, os.fsdecode(data[offset:offset + size].rstrip(b"\0"))))
                offset += size

    def _handle(self, wd: int, mask: int, name: str) -> bool:
        """Take one event in; whether the watches must be set up again (a folder moved, the queue overflowed)."""
        if mask & IN_Q_OVERFLOW:  # events were lost: anything may have changed
            for top in self._tops:
                self._note(top)
            return True
        folder = self._watched.get(wd)
        if folder is None:
            return False
        if mask & IN_IGNORED:  # the folder is gone, or its watch was removed
            del self._watched[wd]
            self._in_tree.discard(wd)
            return False
        if not name:  # about the watched folder itself; its parent's watch tells what happened to it
            return False
        path = folder / name
        if path in self._tops:  # a top folder created, removed, renamed or replaced in its parent
            self._note(path)
            return True
        if wd not in self._in_tree or name.startswith("."):
            return False
        if mask & IN_ISDIR:
            self._note(path)
            if mask & IN_CREATE:
                self._watch_tree(path)
            return bool(mask & (IN_MOVED_FROM | IN_MOVED_TO))
        if name.endswith(WATCHED_SUFFIXES):
            self._note(path)
        return False

    def _rescan(self) -> None:
        """Watch every folder as it is now (and each top's parent); drop the watches of folders gone elsewhere."""
        old = set(self._watched)
        self._watched, self._in_tree = {}, set()
        for top in self._tops:
            if top.parent != top:
                self._add(top.parent, in_tree=False)
            self._watch_tree(top)
        assert self._fd is not None
        for wd in old - set(self._watched):
            _libc.inotify_rm_watch(self._fd, wd)  # fails harmlessly (EINVAL) for a folder already gone

    def _watch_tree(self, top: Path) -> None:
        """Watch `top` and every folder under it but dot-folders, as the jobs loader reads them."""
        for root, dirs, _ in os.walk(top):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            self._add(Path(root), in_tree=True)

    def _add(self, folder: Path, *, in_tree: bool) -> None:
        assert self._fd is not None
        wd = _libc.inotify_add_watch(self._fd, os.fsencode(folder), FOLDER_MASK)
        if wd < 0:
            error = ctypes.get_errno()
            if error in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                return  # gone already (its parent's watch tells), not a folder, or unreadable (the loader says so)
            raise OSError(error, f"{os.strerror(error)}: {folder}")
        self._watched[wd] = folder
        if in_tree:
            self._in_tree.add(wd)

    def _unavailable(self, exc: OSError) -> None:
        """Give up watching (the kernel's limits, most likely), saying so; SIGHUP still reloads."""
        limits = f"; {LIMITS_HELP}" if exc.errno in (errno.ENOSPC, errno.EMFILE, errno.ENFILE) else ""
        log.warning("cannot watch %s for changes (%s%s); the jobs are reloaded only on SIGHUP "
                    "(systemctl reload apsisd)", ", ".join(sorted(map(str, self._tops))), exc.strerror, limits,
                    extra={"action": "watch_unavailable"})
        if self._fd is not None:  # changes already seen are still reported, once
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None


def _check(result: int) -> int:
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result

