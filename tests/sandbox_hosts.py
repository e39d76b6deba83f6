"""The peer hosts of a multi-host sandbox, as tests inside the main sandbox use them.

`tools/sandbox.py run --hosts N` boots N peers beside the main sandbox and
names them in $APSIS_SANDBOX_HOSTS (tools/sandbox_peers.py). From the test,
in the main sandbox, a peer is a remote host: an sshd at `address`, whose
host key is in `known_hosts`. The control key logs in as root to act on the
peer (restart its sshd, give it a new host key); apsis's key runs agentd
only. Cutting a peer's link is `ip link set <veth> down` on this side.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from agentd.remote.ssh import SshTarget, ssh_argv

HOSTS_ENV = "APSIS_SANDBOX_HOSTS"
CONTROL_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class SandboxPeer:
    """One peer host, as tools/sandbox_peers.py's hosts file describes it."""

    name: str
    address: str
    main_address: str
    veth: str
    folder: Path
    host_key: Path
    sshd_config: Path
    sshd_unit: str
    authorized_keys: Path
    known_hosts: Path
    control_key: Path
    apsis_key: Path

    def target(self, key: Path | None = None, known_hosts: Path | None = None, **changes: object) -> SshTarget:
        """How ssh reaches this peer as root: with apsis's key and the run's known_hosts unless told otherwise."""
        return SshTarget(destination=f"root@{self.address}", known_hosts=known_hosts or self.known_hosts,
                         identity_file=key or self.apsis_key, **changes)  # type: ignore[arg-type]


def peers() -> list[SandboxPeer]:
    """The peers of this run.

    In a sandbox booted without them the test fails: it was run the wrong way.
    Outside any sandbox (a host whose PID 1 is systemd, where tools/sandbox.py
    runs tests directly) there can be none, and the test skips, saying so.
    """
    path = os.environ.get(HOSTS_ENV)
    if not path and not os.environ.get("APSIS_SANDBOX"):
        pytest.skip("peer hosts are sandboxes, booted only where systemd is not PID 1 (tools/sandbox.py --hosts)")
    if not path:
        pytest.fail(f"no peer hosts (${HOSTS_ENV} unset): run through tools/test, or "
                    f"tools/sandbox.py run --hosts 2 -- .venv/bin/python -m pytest ...", pytrace=False)
    paths = {f.name for f in fields(SandboxPeer)} - {"name", "address", "main_address", "veth", "sshd_unit"}
    return [SandboxPeer(**{k: Path(v) if k in paths else v for k, v in host.items()})
            for host in json.loads(Path(path).read_text())["hosts"]]


def on_peer(peer: SandboxPeer, argv: Sequence[str], known_hosts: Path | None = None,
            timeout: float = CONTROL_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run argv as root on the peer through the control key (quoted word by word, as ssh_argv does)."""
    target = peer.target(key=peer.control_key, known_hosts=known_hosts, command=tuple(argv))
    return subprocess.run(ssh_argv(target), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def set_link(peer: SandboxPeer, up: bool) -> None:
    """The peer's link, on the main sandbox's side: down, nothing reaches it (nor does it notice at once)."""
    subprocess.run(["ip", "link", "set", peer.veth, "up" if up else "down"], check=True, timeout=10)


@contextmanager
def link_cut(peer: SandboxPeer) -> Iterator[None]:
    """The peer cut off for the block, its link restored after, whatever happens inside."""
    set_link(peer, up=False)
    try:
        yield
    finally:
        set_link(peer, up=True)


def restart_sshd(peer: SandboxPeer, known_hosts: Path | None = None) -> None:
    """Restart the peer's sshd (sessions survive: KillMode=process) and wait until it answers again."""
    proc = on_peer(peer, ["systemctl", "restart", peer.sshd_unit], known_hosts=known_hosts)
    assert proc.returncode == 0, proc.stderr
    wait_sshd(peer, known_hosts)


def wait_sshd(peer: SandboxPeer, known_hosts: Path | None = None, timeout: float = CONTROL_TIMEOUT) -> None:
    """Until the control key logs in on the peer (its sshd listens and shows a key known_hosts holds)."""
    deadline = time.monotonic() + timeout
    while (proc := on_peer(peer, ["true"], known_hosts=known_hosts)).returncode != 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"sshd of {peer.name} not answering after {timeout}s: {proc.stderr}")
        time.sleep(0.1)


@contextmanager
def changed_host_key(peer: SandboxPeer, folder: Path) -> Iterator[Path]:
    """The peer's sshd restarted with a new host key for the block; its own key back after.

    Yields a known_hosts file (in `folder`) that trusts the new key; the run's
    known_hosts still holds the old one, so ssh with it now meets a changed key.
    """
    folder.mkdir(parents=True, exist_ok=True)
    old = folder / "old_host_key"
    new = folder / "new_host_key"
    shutil.copy2(peer.host_key, old)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{peer.name} new", "-f", str(new)],
                   check=True, capture_output=True, timeout=30)
    public = " ".join(new.with_name(new.name + ".pub").read_text().split()[:2])
    new_known = folder / "known_hosts_new"
    new_known.write_text(f"{peer.address} {public}\n")
    both = folder / "known_hosts_both"  # for the control key while sshd may show either
    both.write_text(peer.known_hosts.read_text() + new_known.read_text())
    shutil.copy2(new, peer.host_key)  # the root file system is shared: the peer's sshd reads this file
    try:
        restart_sshd(peer, known_hosts=both)
        wait_sshd(peer, known_hosts=new_known)
        yield new_known
    finally:
        shutil.copy2(old, peer.host_key)
        restart_sshd(peer, known_hosts=both)
        wait_sshd(peer)
