"""The sandboxes' room for inotify instances: checked before a boot, raised only when asked, always put back.

The cap and its record are files in a temporary folder here; the count of
instances in use is read from the real /proc.
"""
from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import sandbox_inotify  # noqa: E402

LIBC = ctypes.CDLL(None, use_errno=True)


class Cap:
    """A stand-in sysctl file and record, and a set of live harness pids."""

    def __init__(self, folder: Path, limit: int, used: int = 0) -> None:
        self.sysctl = folder / "max_user_instances"
        self.sysctl.write_text(f"{limit}\n")
        self.record = folder / "record.json"
        self.used = used
        self.live = {os.getpid()}

    @property
    def value(self) -> int:
        return int(self.sysctl.read_text())

    def alive(self, pid: int) -> bool:
        return pid in self.live

    def make_room(self, sandboxes: int, may_raise: bool) -> bool:
        return sandbox_inotify.make_room(sandboxes, may_raise, self.alive, sysctl=self.sysctl,
                                         record=self.record, in_use=lambda: self.used)

    def release(self) -> None:
        sandbox_inotify.release(self.alive, sysctl=self.sysctl, record=self.record)

    def sweep(self) -> None:
        sandbox_inotify.sweep(self.alive, sysctl=self.sysctl, record=self.record)


def as_pid(pid: int, action: Callable[[], object]) -> object:
    """Run `action` as if the harness were `pid` (the record keys runs by pid)."""
    real = os.getpid
    os.getpid = lambda: pid  # type: ignore[assignment]
    try:
        return action()
    finally:
        os.getpid = real  # type: ignore[assignment]


def test_enough_room_changes_nothing(tmp_path: Path) -> None:
    cap = Cap(tmp_path, 128, used=10)
    assert not cap.make_room(30, may_raise=True)  # 10 + 30 * 3 + 16 = 116
    assert cap.value == 128
    assert not cap.record.exists()


def test_too_little_room_is_refused_up_front_with_what_to_do(tmp_path: Path) -> None:
    cap = Cap(tmp_path, 128, used=4)
    with pytest.raises(sandbox_inotify.RoomError) as err:
        cap.make_room(51, may_raise=False)
    message = str(err.value)
    for part in ("51 sandboxes", f"{51 * sandbox_inotify.PER_SANDBOX + sandbox_inotify.MARGIN} inotify",
                 "4 are in use", "max_user_instances is 128", "--raise-inotify-limit", "fewer --hosts"):
        assert part in message
    assert cap.value == 128
    assert not cap.record.exists()


def test_a_raise_is_put_back_when_the_run_ends(tmp_path: Path) -> None:
    cap = Cap(tmp_path, 128, used=4)
    assert cap.make_room(51, may_raise=True)
    assert cap.value == 4 + sandbox_inotify.needed(51)
    cap.release()
    assert cap.value == 128
    assert not cap.record.exists()


def test_overlapping_runs_put_it_back_once_when_the_last_ends(tmp_path: Path) -> None:
    cap = Cap(tmp_path, 128, used=4)
    cap.live |= {1001, 1002}
    assert as_pid(1001, lambda: cap.make_room(51, may_raise=True))
    first = cap.value
    cap.used = first - 10  # the first run's sandboxes hold most of it now
    assert as_pid(1002, lambda: cap.make_room(20, may_raise=True))
    assert cap.value > first
    as_pid(1001, cap.release)
    assert cap.value > first, "the second run still needs the raise"
    as_pid(1002, cap.release)
    assert cap.value == 128
    assert not cap.record.exists()


def test_a_run_killed_by_sigkill_has_its_raise_put_back_by_the_next(tmp_path: Path) -> None:
    cap = Cap(tmp_path, 128, used=4)
    cap.live.add(1001)
    assert as_pid(1001, lambda: cap.make_room(51, may_raise=True))
    cap.live.discard(1001)  # SIGKILL: no release
    cap.sweep()
    assert cap.value == 128
    assert not cap.record.exists()
    # And a new raise after such a death records the host's value, not the dead run's.
    cap.live.add(1003)
    cap.record.write_text('{"original": 128, "raised_to": 300, "pids": [1001]}')
    cap.sysctl.write_text("300\n")
    assert as_pid(1003, lambda: cap.make_room(51, may_raise=True))
    as_pid(1003, cap.release)
    assert cap.value == 128


def test_a_cap_someone_else_changed_meanwhile_is_left_as_it_is(tmp_path: Path) -> None:
    cap = Cap(tmp_path, 128, used=4)
    assert cap.make_room(51, may_raise=True)
    cap.sysctl.write_text("8192\n")  # an administrator (or a reboot) set it since
    cap.release()
    assert cap.value == 8192
    assert not cap.record.exists()


def test_instances_in_use_counts_this_users_open_inotify_instances() -> None:
    before = sandbox_inotify.instances_in_use(os.geteuid())
    fds = [LIBC.inotify_init1(os.O_CLOEXEC) for _ in range(3)]
    try:
        assert all(fd >= 0 for fd in fds)
        assert sandbox_inotify.instances_in_use(os.geteuid()) == before + 3
    finally:
        for fd in fds:
            os.close(fd)
    assert sandbox_inotify.instances_in_use(os.geteuid()) == before
