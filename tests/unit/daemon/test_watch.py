"""FolderWatcher on real folders: one report per burst of changes, the names the loader ignores ignored.

Exactly one report per burst is shown without waiting for silence: after
each burst a marker file is written, and the next report must hold the
marker alone (a second report of the burst would come first).
"""
from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from apsisd.daemon import watch
from apsisd.daemon.watch import FolderWatcher, watch_folders

T = TypeVar("T")
QUIET = 0.05


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(10):
            return await scenario()

    return asyncio.run(bounded())


async def burst(watcher: FolderWatcher) -> frozenset[Path]:
    async with asyncio.timeout(5):
        return await anext(watcher)


async def marked(watcher: FolderWatcher, folder: Path) -> frozenset[Path]:
    """The report of the burst just made; then proof that it was the only one."""
    changed = await burst(watcher)
    marker = folder / f"marker-{len(list(folder.iterdir()))}.yaml"
    marker.write_text("program: true\n")
    assert await burst(watcher) == {marker}
    return changed


def setup(jobs: Path) -> None:
    (jobs / "old").mkdir(parents=True)
    (jobs / "a.yaml").write_text("program: true\n")
    (jobs / "old" / "b.yaml").write_text("program: true\n")


def rename_folder(jobs: Path) -> None:
    (jobs / "old").rename(jobs / "new")


def remove_folder(jobs: Path) -> None:
    (jobs / "old" / "b.yaml").unlink()
    (jobs / "old").rmdir()


CHANGES: list[tuple[str, Callable[[Path], object], set[str]]] = [
    ("create", lambda jobs: (jobs / "c.yaml").write_text("program: true\n"), {"c.yaml"}),
    ("modify", lambda jobs: (jobs / "old" / "b.yaml").write_text("program: false\n"), {"old/b.yaml"}),
    ("delete", lambda jobs: (jobs / "a.yaml").unlink(), {"a.yaml"}),
    ("rename", lambda jobs: (jobs / "a.yaml").rename(jobs / "z.yaml"), {"a.yaml", "z.yaml"}),
    ("chmod", lambda jobs: (jobs / "a.yaml").chmod(0o600), {"a.yaml"}),
    ("calendar", lambda jobs: (jobs / "old" / "h.calendar").write_text("2026-12-25\n"), {"old/h.calendar"}),
    ("yml", lambda jobs: (jobs / "x.yml").write_text(""), {"x.yml"}),
    ("new folder", lambda jobs: (jobs / "sub" / "deeper").mkdir(parents=True), {"sub"}),
    ("remove folder", remove_folder, {"old/b.yaml", "old"}),
    ("rename folder", rename_folder, {"old", "new"}),
]


@pytest.mark.parametrize(("change", "expected"), [(change, names) for _, change, names in CHANGES],
                         ids=[name for name, _, _ in CHANGES])
def test_each_change_is_one_report(tmp_path: Path, change: Callable[[Path], object], expected: set[str]) -> None:
    jobs = tmp_path / "jobs"
    setup(jobs)

    async def scenario() -> frozenset[Path]:
        watcher = FolderWatcher([jobs], debounce=QUIET, max_delay=5)
        try:
            change(jobs)
            return await marked(watcher, jobs)
        finally:
            watcher.close()

    assert run(scenario) == {jobs / name for name in expected}


def test_folders_created_or_moved_in_later_are_watched(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    setup(jobs)
    outside = tmp_path / "outside"
    (outside / "inner").mkdir(parents=True)

    async def scenario() -> None:
        watcher = FolderWatcher([jobs], debounce=QUIET, max_delay=5)
        try:
            (jobs / "sub" / "deeper").mkdir(parents=True)
            await marked(watcher, jobs)
            (jobs / "sub" / "deeper" / "d.yaml").write_text("program: true\n")
            assert await marked(watcher, jobs) == {jobs / "sub" / "deeper" / "d.yaml"}
            outside.rename(jobs / "moved")
            await marked(watcher, jobs)
            (jobs / "moved" / "inner" / "e.yaml").write_text("program: true\n")
            assert await marked(watcher, jobs) == {jobs / "moved" / "inner" / "e.yaml"}
            # A folder renamed inside the tree: its files are reported under its new name.
            (jobs / "old").rename(jobs / "renamed")
            await marked(watcher, jobs)
            (jobs / "renamed" / "f.yaml").write_text("program: true\n")
            assert await marked(watcher, jobs) == {jobs / "renamed" / "f.yaml"}
        finally:
            watcher.close()

    run(scenario)


def test_a_burst_of_changes_is_one_report(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    setup(jobs)

    async def scenario() -> frozenset[Path]:
        watcher = FolderWatcher([jobs], debounce=0.2, max_delay=5)
        try:
            for index in range(30):
                (jobs / f"job{index}.yaml").write_text("program: true\n")
            (jobs / "a.yaml").unlink()
            return await marked(watcher, jobs)
        finally:
            watcher.close()

    assert run(scenario) == {jobs / f"job{index}.yaml" for index in range(30)} | {jobs / "a.yaml"}


def test_editor_files_dot_files_and_other_names_are_ignored(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    setup(jobs)

    async def scenario() -> frozenset[Path]:
        watcher = FolderWatcher([jobs], debounce=QUIET, max_delay=5)
        try:
            for name in (".#a.yaml", "a.yaml~", ".a.yaml.swp", "#a.yaml#", "4913", "README.md", ".hidden.yaml"):
                (jobs / name).write_text("x")
            (jobs / "a.yaml~").rename(jobs / "old" / "b.yaml~")
            (jobs / ".git" / "objects").mkdir(parents=True)
            (jobs / ".git" / "objects" / "x.yaml").write_text("x")
            (jobs / "c.yaml").write_text("program: true\n")
            return await marked(watcher, jobs)
        finally:
            watcher.close()

    assert run(scenario) == {jobs / "c.yaml"}


def test_max_delay_reports_a_folder_that_keeps_changing(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    setup(jobs)

    async def scenario() -> tuple[frozenset[Path], float]:
        loop = asyncio.get_running_loop()
        watcher = FolderWatcher([jobs], debounce=0.15, max_delay=0.3)
        try:
            start = loop.time()
            changed = asyncio.create_task(anext(watcher))
            index = 0
            while not changed.done():  # a change every 50 ms: never quiet for 150 ms
                (jobs / f"churn{index}.yaml").write_text("")
                index += 1
                await asyncio.wait([changed], timeout=0.05)
            return changed.result(), loop.time() - start
        finally:
            watcher.close()

    changed, took = run(scenario)
    assert jobs / "churn0.yaml" in changed
    assert 0.28 <= took < 10  # reported at max_delay (not before), though the changes never stopped


def test_the_jobs_folder_replaced_or_created_later_is_followed(tmp_path: Path) -> None:
    jobs, calendars = tmp_path / "jobs", tmp_path / "calendars"
    setup(jobs)

    async def scenario() -> None:
        watcher = FolderWatcher([jobs, calendars], debounce=QUIET, max_delay=5)
        try:
            # A new release moved into place over the old folder (as deployment tools do).
            setup(tmp_path / "release2")
            jobs.rename(tmp_path / "release1")
            (tmp_path / "release2").rename(jobs)
            await marked(watcher, jobs)
            (jobs / "old" / "x.yaml").write_text("program: true\n")
            assert await marked(watcher, jobs) == {jobs / "old" / "x.yaml"}
            (tmp_path / "release1" / "a.yaml").write_text("program: false\n")  # the old one is no longer watched
            # The calendars folder, missing at first, appears.
            calendars.mkdir()
            assert await burst(watcher) == {calendars}
            (calendars / "h.calendar.yaml").write_text("dates: []\n")
            assert await marked(watcher, jobs) == {calendars / "h.calendar.yaml"}
        finally:
            watcher.close()

    run(scenario)


def test_a_swapped_symlink_is_followed(tmp_path: Path) -> None:
    setup(tmp_path / "v1")
    setup(tmp_path / "v2")
    jobs = tmp_path / "jobs"
    jobs.symlink_to("v1")

    async def scenario() -> None:
        watcher = FolderWatcher([jobs], debounce=QUIET, max_delay=5)
        try:
            (tmp_path / "next").symlink_to("v2")
            (tmp_path / "next").rename(jobs)
            assert await burst(watcher) == {jobs}
            (tmp_path / "v2" / "n.yaml").write_text("program: true\n")
            (tmp_path / "v1" / "o.yaml").write_text("program: true\n")
            assert await burst(watcher) == {jobs / "n.yaml"}
        finally:
            watcher.close()

    run(scenario)


def test_close_removes_the_reader_closes_the_descriptor_and_ends_iteration(tmp_path: Path) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        watcher = FolderWatcher([tmp_path], debounce=QUIET, max_delay=5)
        fd = watcher._fd
        assert fd is not None
        waiting = asyncio.create_task(anext(watcher))
        await asyncio.sleep(0)
        watcher.close()
        with pytest.raises(StopAsyncIteration):
            await waiting
        assert not loop.remove_reader(fd)
        with pytest.raises(OSError) as caught:
            os.fstat(fd)
        assert caught.value.errno == errno.EBADF

    run(scenario)


def test_watch_folders_closes_its_watcher_when_cancelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    watchers: list[FolderWatcher] = []
    real = watch.FolderWatcher

    def remembered(*args: Any, **kwargs: Any) -> FolderWatcher:
        watchers.append(real(*args, **kwargs))
        return watchers[-1]

    monkeypatch.setattr(watch, "FolderWatcher", remembered)

    async def consume() -> None:
        async for changed in watch_folders([tmp_path], debounce=QUIET, max_delay=5):
            assert changed == {tmp_path / "a.yaml"}
            (tmp_path / "b.yaml").write_text("")  # and go on watching

    async def scenario() -> None:
        task = asyncio.create_task(consume())
        while not watchers:  # the generator makes its watcher when first asked for a change
            await asyncio.sleep(0)
        (tmp_path / "a.yaml").write_text("")
        while not (tmp_path / "b.yaml").exists():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario)
    assert watchers[0]._fd is None


def test_without_inotify_it_warns_and_only_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    def refuse(flags: int) -> int:
        ctypes.set_errno(errno.EMFILE)
        return -1

    monkeypatch.setattr(watch._libc, "inotify_init1", refuse)

    async def scenario() -> bool:
        watcher = FolderWatcher([tmp_path], debounce=QUIET, max_delay=5)
        waiting = asyncio.create_task(anext(watcher))
        (tmp_path / "a.yaml").write_text("")
        for _ in range(5):
            await asyncio.sleep(0)
        still_waiting = not waiting.done()  # nothing is watched, so only close() can end the wait
        watcher.close()
        with pytest.raises(StopAsyncIteration):
            await waiting
        return still_waiting

    with caplog.at_level(logging.WARNING):
        assert run(scenario) is True
    [record] = caplog.records
    assert record.__dict__["action"] == "watch_unavailable"
    assert record.getMessage() == (
        f"cannot watch {tmp_path} for changes (Too many open files; raise the kernel's limits: sysctl "
        "fs.inotify.max_user_watches, fs.inotify.max_user_instances); the jobs are reloaded only on SIGHUP "
        "(systemctl reload apsisd)")


def test_a_watch_refused_later_ends_watching_after_one_last_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    def refuse(fd: int, path: bytes, mask: int) -> int:
        ctypes.set_errno(errno.ENOSPC)
        return -1

    async def scenario() -> frozenset[Path]:
        watcher = FolderWatcher([tmp_path], debounce=QUIET, max_delay=5)
        try:
            monkeypatch.setattr(watch._libc, "inotify_add_watch", refuse)  # fs.inotify.max_user_watches reached
            (tmp_path / "sub").mkdir()
            changed = await burst(watcher)
            assert watcher._fd is None
            return changed
        finally:
            watcher.close()

    with caplog.at_level(logging.WARNING):
        assert run(scenario) == {tmp_path / "sub"}
    [record] = caplog.records
    assert record.getMessage().startswith(f"cannot watch {tmp_path} for changes (No space left on device: "
                                          f"{tmp_path}/sub; raise the kernel's limits")
