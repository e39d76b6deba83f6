"""Room for the sandboxes' inotify instances: the kernel's cap on them, checked and, when asked, raised.

Every systemd holds three inotify instances for as long as it runs (cgroup
empty notifications, /run/mount/utab, /etc/localtime), and in the sandboxes
they are all root's. The kernel caps one user's instances across every
namespace at fs.inotify.max_user_instances (128 on Debian), so about forty
sandboxes fit; the next ones used to hang in "initializing" until the boot
timeout. `tools/sandbox.py run --hosts N` checks the room before it boots,
and says what to do when there is not enough.

With `--raise-inotify-limit` the harness raises the cap for its run and puts
it back after. The value it found is recorded in RECORD with the pids of the
runs that need the raise, so overlapping runs put it back once, when the
last one ends, and a harness killed by SIGKILL has it put back by the next
one's sweep. A cap someone else changed meanwhile (or a reboot reset) is
left as it is.

Deliberately standard library only, like tools/sandbox.py.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

SYSCTL = Path("/proc/sys/fs/inotify/max_user_instances")
RECORD = Path("/run/apsis-sandbox-inotify.json")
PER_SANDBOX = 3  # each systemd's own, measured: tests/sandbox/test_sandbox.py
MARGIN = 16  # the command's: apsisd's jobs-folder watch, journalctl --follow, a test's own
INOTIFY = "anon_inode:inotify"


class RoomError(Exception):
    """Not enough inotify instances for the sandboxes asked for, and no leave to raise the cap."""


def instances_in_use(uid: int = 0, proc: Path = Path("/proc")) -> int:
    """Open inotify instances of processes running as `uid` (what the kernel counts against its cap)."""
    count = 0
    for pid in proc.iterdir():
        if not pid.name.isdigit():
            continue
        try:
            if _effective_uid(pid / "status") != uid:
                continue
            for fd in (pid / "fd").iterdir():
                if os.readlink(fd) == INOTIFY:
                    count += 1
        except OSError:  # gone meanwhile, or a file descriptor closed while read
            continue
    return count


def _effective_uid(status: Path) -> int:
    for line in status.read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[2])
    raise OSError(f"{status}: no Uid line")


def needed(sandboxes: int) -> int:
    """Instances `sandboxes` systemds and the command inside them hold."""
    return sandboxes * PER_SANDBOX + MARGIN


def make_room(sandboxes: int, may_raise: bool, alive: Callable[[int], bool], *,
              sysctl: Path = SYSCTL, record: Path = RECORD, in_use: Callable[[], int] = instances_in_use) -> bool:
    """Check there is room for `sandboxes`; raise the cap if allowed. True if this run raised it (release it)."""
    with _locked(sysctl):
        return _make_room(sandboxes, may_raise, alive, sysctl, record, in_use)


def _make_room(sandboxes: int, may_raise: bool, alive: Callable[[int], bool],
               sysctl: Path, record: Path, in_use: Callable[[], int]) -> bool:
    _sweep(alive, sysctl, record)
    limit = int(sysctl.read_text())
    used = in_use()
    want = used + needed(sandboxes)
    if want <= limit:
        return False
    if not may_raise:
        raise RoomError(
            f"{sandboxes} sandboxes need about {needed(sandboxes)} inotify instances of root's "
            f"({PER_SANDBOX} for each systemd, {MARGIN} for the command), {used} are in use and "
            f"{SYSCTL} is {limit}: ask for fewer --hosts, or pass --raise-inotify-limit to raise it "
            f"to {want} for this run (it is put back after)")
    state = _load(record)
    if state is None:
        state = {"original": limit, "raised_to": want, "pids": []}
    state["raised_to"] = max(state["raised_to"], want)
    state["pids"].append(os.getpid())
    _save(record, state)
    sysctl.write_text(f"{state['raised_to']}\n")
    return True


def release(alive: Callable[[int], bool], *, sysctl: Path = SYSCTL, record: Path = RECORD) -> None:
    """This run no longer needs the raise: put the cap back if no other live run does."""
    with _locked(sysctl):
        _sweep(lambda pid: pid != os.getpid() and alive(pid), sysctl, record)


def sweep(alive: Callable[[int], bool], *, sysctl: Path = SYSCTL, record: Path = RECORD) -> None:
    """Put the cap back for runs that died without doing it (SIGKILL)."""
    with _locked(sysctl):
        _sweep(alive, sysctl, record)


@contextlib.contextmanager
def _locked(sysctl: Path) -> Iterator[None]:
    """One harness at a time reads and writes the cap and its record (a lock on the sysctl file itself)."""
    with sysctl.open() as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _sweep(alive: Callable[[int], bool], sysctl: Path, record: Path) -> None:
    state = _load(record)
    if state is not None:
        _settle(state, alive, sysctl, record)


def _settle(state: dict, alive: Callable[[int], bool], sysctl: Path, record: Path) -> None:
    state["pids"] = [pid for pid in state["pids"] if alive(pid)]
    if state["pids"]:
        _save(record, state)
        return
    if int(sysctl.read_text()) == state["raised_to"]:  # else someone (or a reboot) set it since: theirs
        sysctl.write_text(f"{state['original']}\n")
    record.unlink(missing_ok=True)


def _load(record: Path) -> dict | None:
    try:
        return json.loads(record.read_text())
    except FileNotFoundError:
        return None


def _save(record: Path, state: dict) -> None:
    partial = record.with_name(record.name + ".partial")
    partial.write_text(json.dumps(state))
    partial.replace(record)
