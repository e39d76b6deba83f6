"""A non-root SSH user's runs are units of that user's own `systemd --user` on the remote host.

agentd runs as the SSH user (issue 14): root drives the system manager, any
other user its own user manager. The peer has no such user and its root
file system is the host's (/etc, /root, /home shared, read-only), so the
fixture makes one as test_user_manager.py does in the main sandbox, but on
the peer, as root through the control key, in the peer's own mount
namespace: copies of /etc/passwd, group and shadow bound over the real ones
(the sandboxes' mounts are private: the host's files never change, which
the teardown checks), a login shell and a home in the test's folder with
apsis's key in the user's own ~/.ssh/authorized_keys (the peers' sshd reads
a non-root user's own file), and user@UID.service started, as lingering
would start it at boot.

The user must be able to run the checkout's agentd. Its venv's Python may
live under a folder others may not enter (/root/.pyenv, /root being 0700):
the fixture then mounts a tmpfs (0755) over that folder in the peer's mount
namespace and binds back only what agentd needs, as an operator installs
agentd where its SSH user can run it.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import stat
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from agentd.host import Finished, HostEvent, Started
from agentd.remote.host import RemoteHost
from agentd.remote.link import Link, ProcessLink
from agentd.remote.ssh import AuthenticationRefused, SshTarget, explainer, failure, ssh_argv
from agentd.spec import RunSpec
from agentd.types import RunId
from tests.sandbox_hosts import SandboxPeer, on_peer, peers

UID = 1501
USER = "apsisremote"
ROOT = Path(__file__).resolve().parents[2]
AGENTD = ROOT / ".venv" / "bin" / "agentd"
DROP_IN = f"/run/systemd/system/user@{UID}.service.d/apsis-test.conf"
HOLD = "/run/apsis-test-hold"  # the peer's own /run: where folders wait while a tmpfs covers their parent
TMPFS_SOURCE = "apsis-remote-user"
WITHIN = 90.0  # seconds for the test's own part


def on_peer_ok(peer: SandboxPeer, argv: Sequence[str]) -> str:
    done = on_peer(peer, argv)
    assert done.returncode == 0, (list(argv), done.returncode, done.stderr)
    return done.stdout


@dataclass(frozen=True, slots=True)
class PeerUser:
    peer: SandboxPeer
    target: SshTarget  # apsis's key, as USER


def walkable_to_others(tmp_path: Path, changed: list[tuple[Path, int]]) -> None:
    """The test's folder and those above it up to the checkout made passable by others (pytest makes them 0700):
    sshd reads the user's authorized_keys as the user. Each one changed goes into `changed` with its old mode."""
    for folder in [tmp_path, *tmp_path.parents]:
        if folder == ROOT or not folder.is_relative_to(ROOT):
            break
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
            changed.append((folder, mode))


def blocked_folder(paths: Sequence[Path]) -> Path | None:
    """The outermost folder on the way to `paths` that other users may not enter (/root: 0700), if any."""
    for path in paths:
        for folder in reversed(path.parents):
            if not folder.stat().st_mode & stat.S_IXOTH:
                return folder
    return None


def open_on_peer(peer: SandboxPeer, folder: Path, needed: Sequence[Path], mounted: list[str]) -> None:
    """A 0755 tmpfs over `folder` in the peer's mount namespace, with the children of it that `needed` lie in
    bound back; every mount made is appended to `mounted` as soon as it exists."""
    children = sorted({folder / path.relative_to(folder).parts[0] for path in needed if path.is_relative_to(folder)})
    held = [f"{HOLD}/{n}" for n in range(len(children))]
    for child, hold in zip(children, held, strict=True):
        on_peer_ok(peer, ["mkdir", "-p", hold])
        on_peer_ok(peer, ["mount", "--bind", str(child), hold])
        mounted.append(hold)
    on_peer_ok(peer, ["mount", "-t", "tmpfs", "-o", "mode=0755", TMPFS_SOURCE, str(folder)])
    mounted.append(str(folder))
    for child, hold in zip(children, held, strict=True):
        on_peer_ok(peer, ["mkdir", str(child)])
        on_peer_ok(peer, ["mount", "--bind", hold, str(child)])
        mounted.append(str(child))
        on_peer_ok(peer, ["umount", hold])
        mounted.remove(hold)
    on_peer_ok(peer, ["rm", "-rf", HOLD])


def user_files(tmp_path: Path, home: Path) -> dict[str, Path]:
    """Copies of the host's passwd, group and shadow with USER added, in a folder only root may enter."""
    etc = tmp_path / "etc"
    etc.mkdir(mode=0o700)
    lines = {"passwd": f"{USER}:x:{UID}:{UID}:apsis remote test:{home}:/bin/sh",
             "group": f"{USER}:x:{UID}:", "shadow": f"{USER}:*:20000:0:99999:7:::"}
    copies = {}
    for name, line in lines.items():
        copy = etc / name
        # The shadow copy stays as unreadable as the original; the bound file keeps its copy's mode.
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if name == "shadow" else 0o644)
        with os.fdopen(fd, "w") as file:
            file.write(Path(f"/etc/{name}").read_text() + line + "\n")
        copies[name] = copy
    return copies


def make_home(home: Path, peer: SandboxPeer) -> None:
    """The user's home, theirs, with apsis's key in their own authorized_keys: the line the harness gives root."""
    ssh = home / ".ssh"
    ssh.mkdir(parents=True)
    public = " ".join(peer.apsis_key.with_name(peer.apsis_key.name + ".pub").read_text().split()[:2])
    (ssh / "authorized_keys").write_text(f'command="{AGENTD} serve --stdio",restrict {public} apsis\n')
    for path, mode in ((home, 0o700), (ssh, 0o700), (ssh / "authorized_keys", 0o600)):
        os.chown(path, UID, UID)
        path.chmod(mode)


@pytest.fixture
def peer_user(tmp_path: Path) -> Iterator[PeerUser]:
    peer = peers()[0]
    assert tmp_path.is_relative_to(ROOT), "run pytest with --basetemp under the checkout: the peer shares only that"
    host_passwd = Path("/etc/passwd").read_bytes()
    home = tmp_path / "home" / USER
    walkable: list[tuple[Path, int]] = []
    mounted: list[str] = []
    started = False
    try:
        walkable_to_others(tmp_path, walkable)
        make_home(home, peer)
        copies = user_files(tmp_path, home)
        python = Path(AGENTD.read_text().splitlines()[0].removeprefix("#!")).resolve()
        if blocked := blocked_folder([python, AGENTD, tmp_path]):
            open_on_peer(peer, blocked, [python, AGENTD, tmp_path], mounted)
        for name, copy in copies.items():
            on_peer_ok(peer, ["mount", "--bind", str(copy), f"/etc/{name}"])
            mounted.append(f"/etc/{name}")
        # Without logind, user-runtime-dir would wait 25 s for it, and PAM would not set this:
        on_peer_ok(peer, ["systemctl", "mask", "--runtime", "--now", "systemd-logind.service"])
        on_peer_ok(peer, ["sh", "-euc", 'mkdir -p "${1%/*}"; printf "[Service]\\nEnvironment=XDG_RUNTIME_DIR=%s\\n" '
                                        '"$2" > "$1"', "sh", DROP_IN, f"/run/user/{UID}"])
        on_peer_ok(peer, ["systemctl", "daemon-reload"])
        started = True
        on_peer_ok(peer, ["systemctl", "start", f"user@{UID}.service"])
        can_run = on_peer(peer, ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", str(AGENTD),
                                 "--version"])
        assert can_run.returncode == 0, f"{USER} cannot run {AGENTD} on {peer.name}: {can_run.stderr}"
        assert on_peer_ok(peer, ["getent", "passwd", USER]).startswith(f"{USER}:x:{UID}:")
        assert USER not in Path("/etc/passwd").read_text(), "the peer's user reached this sandbox's /etc/passwd"
        yield PeerUser(peer=peer, target=replace(peer.target(connect_timeout=5), destination=f"{USER}@{peer.address}"))
    finally:
        if started:
            on_peer(peer, ["systemctl", "stop", f"user@{UID}.service"])
        on_peer(peer, ["rm", "-rf", DROP_IN.rpartition("/")[0]])
        on_peer(peer, ["systemctl", "unmask", "--runtime", "systemd-logind.service"])
        on_peer(peer, ["systemctl", "daemon-reload"])
        left = [path for path in reversed(mounted) if not unmounted(peer, path)]
        for folder, mode in reversed(walkable):
            folder.chmod(mode)
        assert not left, f"still mounted on {peer.name}: {left}"
        assert on_peer(peer, ["getent", "passwd", USER]).returncode == 2, f"{USER} outlived the test on the peer"
        # The peer's binds lived in its own mount namespace: the host's file is as it was.
        assert Path("/etc/passwd").read_bytes() == host_passwd


def unmounted(peer: SandboxPeer, path: str, within: float = 10.0) -> bool:
    """`path` unmounted on the peer, waiting out a process still ending there (agentd after its session); if
    still busy then, detached (lazily) and False. From /: root's session starts in its home, perhaps `path`."""
    deadline = time.monotonic() + within
    while on_peer(peer, ["sh", "-c", 'cd / && exec umount "$1"', "sh", path]).returncode != 0:
        if time.monotonic() > deadline:
            on_peer(peer, ["sh", "-c", 'cd / && exec umount --lazy "$1"', "sh", path])
            return False
        time.sleep(0.2)
    return True


@contextlib.asynccontextmanager
async def remote(peer: SandboxPeer, target: SshTarget) -> AsyncIterator[RemoteHost]:
    """RemoteHost over `target`, linked before it is handed over."""
    async def connect() -> Link:
        return await ProcessLink.spawn(ssh_argv(target), peer.name)

    async with RemoteHost(f"{peer.name}-{target.destination.partition('@')[0]}", connect, scheduler="usertest",
                          call_timeout=30.0, explain=explainer(peer.name, target)) as host:
        await host.list()
        yield host


class Gated:
    """A program that prints `lines` (shell), then waits for its gate (a file of the test's folder), then exits."""

    def __init__(self, folder: Path, lines: str, code: int) -> None:
        self.run_id = RunId(f"u{uuid.uuid4().hex[:12]}")
        self.gate = folder / f"{self.run_id}.gate"
        gate = shlex.quote(str(self.gate))
        self.spec = RunSpec(run_id=self.run_id, grace_period=5,
                            shell=f"{lines}; while [ ! -e {gate} ]; do sleep 0.05; done; exit {code}")


class Seen:
    """A run's events and output as RemoteHost tells them, read from its start."""

    def __init__(self, group: asyncio.TaskGroup, host: RemoteHost, run_id: RunId) -> None:
        self.events: list[HostEvent] = []
        self.output = b""
        group.create_task(self._events(host, run_id), name=f"events:{run_id}")
        group.create_task(self._output(host, run_id), name=f"output:{run_id}")

    async def _events(self, host: RemoteHost, run_id: RunId) -> None:
        async for event in host.events(run_id):
            self.events.append(event)

    async def _output(self, host: RemoteHost, run_id: RunId) -> None:
        async for record in host.output(run_id, follow=True):
            self.output += record.data

    async def lines(self, count: int, within: float = 30.0) -> list[str]:
        async with asyncio.timeout(within):
            while self.output.count(b"\n") < count:
                await asyncio.sleep(0.05)
        return self.output.decode().splitlines()


async def cgroups_named(peer: SandboxPeer, unit: str) -> list[str]:
    """The peer's cgroup folders named after `unit`, wherever its manager put them (compared here: a unit's name
    has backslashes, which find's patterns would read as escapes)."""
    found = await asyncio.to_thread(on_peer_ok, peer, ["find", "/sys/fs/cgroup", "-type", "d", "-name", "apsis-*"])
    return [line.removeprefix("/sys/fs/cgroup") for line in found.splitlines() if line.rpartition("/")[2] == unit]


async def while_both_wait(group: asyncio.TaskGroup, peer: SandboxPeer, as_user: RemoteHost, mine: Gated,
                          as_root: RemoteHost, roots: Gated) -> tuple[Seen, Seen, str]:
    """Both runs started, each on its own manager; checked while both wait at their gates. What RemoteHost
    tells of each, and the user's run's cgroup."""
    unit = (await as_user.start(mine.spec)).unit
    root_unit = (await as_root.start(roots.spec)).unit
    seen, root_seen = Seen(group, as_user, mine.run_id), Seen(group, as_root, roots.run_id)

    uid, cgroup = await seen.lines(2)
    assert uid == str(UID)
    # Its unit's cgroup, as the run sees it and as the peer's root does: under user@UID.service.
    assert cgroup == f"/user.slice/user-{UID}.slice/user@{UID}.service/apsis.slice/{unit}"
    assert await cgroups_named(peer, unit) == [cgroup]
    assert await root_seen.lines(1) == ["0"]
    assert await cgroups_named(peer, root_unit) == [f"/apsis.slice/{root_unit}"]

    # One scheduler, two managers: each list() shows its own manager's runs only.
    user_listed = {u.run_id for u in await as_user.list()}
    root_listed = {u.run_id for u in await as_root.list()}
    assert mine.run_id in user_listed and roots.run_id not in user_listed, user_listed
    assert roots.run_id in root_listed and mine.run_id not in root_listed, root_listed
    return seen, root_seen, cgroup


def test_a_non_root_users_runs_are_units_of_its_own_user_manager(peer_user: PeerUser, tmp_path: Path) -> None:
    peer = peer_user.peer
    # The harness's authorized_keys (the control key's unrestricted root line) is not read for this user:
    control = replace(peer_user.target, identity_file=peer.control_key, command=("true",))
    refused = subprocess.run(ssh_argv(control), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert isinstance(failure(peer.name, control, refused.returncode, refused.stderr), AuthenticationRefused), \
        (refused.returncode, refused.stderr)

    async def main() -> None:
        async with asyncio.timeout(WITHIN), remote(peer, peer_user.target) as as_user, \
                remote(peer, peer.target()) as as_root:
            assert as_user.hello is not None and as_root.hello is not None
            assert (as_user.hello.manager, as_user.hello.user) == ("user", USER)
            assert (as_root.hello.manager, as_root.hello.user) == ("system", "root")

            mine = Gated(tmp_path, "id -u; sed -n 's/^0:://p' /proc/self/cgroup", code=7)
            roots = Gated(tmp_path, "id -u", code=0)
            async with asyncio.TaskGroup() as group:
                try:
                    seen, root_seen, cgroup = await while_both_wait(group, peer, as_user, mine, as_root, roots)
                finally:
                    mine.gate.touch()
                    roots.gate.touch()
            assert [type(e) for e in seen.events] == [Started, Finished], seen.events
            finished = seen.events[-1]
            assert isinstance(finished, Finished)
            assert (finished.result, finished.exit_code, finished.recovered) == ("exit-code", 7, False), finished
            assert seen.output == f"{UID}\n{cgroup}\n".encode()
            assert [type(e) for e in root_seen.events] == [Started, Finished], root_seen.events

    asyncio.run(main())
