"""apsis's ssh command line against real sshds on the sandbox's peer hosts, and its failures, classified.

Runs inside the main sandbox with peers (tools/test boots it with --hosts 2):
each peer is a host with its own systemd, host key and sshd, behind a link
this side can cut. Everything here is ssh_argv() and failure() of
agentd/remote/ssh.py meeting the real OpenSSH.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from agentd.remote.ssh import (
    SSH_FAILED,
    AuthenticationRefused,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
    SshError,
    SshTarget,
    failure,
    ssh_argv,
)
from tests.sandbox_hosts import SandboxPeer, changed_host_key, link_cut, on_peer, peers, restart_sshd

AGENTD = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "agentd"


@pytest.fixture
def peer() -> SandboxPeer:
    return peers()[0]


def ssh(target: SshTarget, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ssh_argv(target) to its end (stdin closed); the result and how long it took."""
    start = time.monotonic()
    proc = subprocess.run(ssh_argv(target), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    return proc, time.monotonic() - start


def refusal(name: str, target: SshTarget, proc: subprocess.CompletedProcess[str]) -> SshError:
    assert proc.returncode == SSH_FAILED, (proc.returncode, proc.stdout, proc.stderr)
    return failure(name, target, proc.returncode, proc.stderr)


def test_the_argv_reaches_a_peer_and_each_remote_word_arrives_whole(peer: SandboxPeer) -> None:
    words = ("printf", "[%s]\\n", "a b", "$HOME;id", "'q'", "")
    proc, _ = ssh(peer.target(key=peer.control_key, command=words))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[a b]", "[$HOME;id]", "['q']", "[]"]


def test_apsiss_key_runs_the_forced_agentd_and_nothing_else(peer: SandboxPeer) -> None:
    proc, _ = ssh(peer.target(command=("id",)))
    assert "uid=" not in proc.stdout, "apsis's key ran the command it asked for, not the forced one"
    if not AGENTD.exists():  # agentd's console script not installed yet: the forced command is what ran
        assert proc.returncode == 127
        assert f"{AGENTD}: No such file or directory" in proc.stderr


def test_a_changed_host_key_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    peer = peers()[-1]
    with changed_host_key(peer, tmp_path / "keys") as new_known_hosts:
        target = peer.target(key=peer.control_key, command=("true",))
        proc, _ = ssh(target)
        err = refusal(peer.name, target, proc)
        assert isinstance(err, HostKeyChanged), err
        text = str(err)
        assert text.startswith(f"host {peer.name}: the SSH host key of {peer.address} has changed")
        assert "apsis refuses a changed host key" in text
        assert f"ssh-keygen -R {peer.address} -f {peer.known_hosts}" in text
        assert "(it now offers SHA256:" in text
        # With the new key trusted, the same host is reached again: the refusal was the key's alone.
        proc, _ = ssh(peer.target(key=peer.control_key, known_hosts=new_known_hosts, command=("true",)))
        assert proc.returncode == 0, proc.stderr


def test_an_unknown_host_is_refused(peer: SandboxPeer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    target = peer.target(key=peer.control_key, known_hosts=empty, command=("true",))
    proc, _ = ssh(target)
    err = refusal(peer.name, target, proc)
    assert isinstance(err, HostKeyUnknown), err
    assert f"holds no key for {peer.address}" in str(err)
    assert f"ssh-keyscan -t ed25519 {peer.address} >> {empty}" in str(err)


def test_another_hosts_key_under_this_address_is_a_changed_key(tmp_path: Path) -> None:
    first, second = peers()[:2]
    swapped = tmp_path / "known_hosts"
    theirs = next(line for line in first.known_hosts.read_text().splitlines() if line.startswith(second.address + " "))
    swapped.write_text(theirs.replace(second.address, first.address, 1) + "\n")
    target = first.target(key=first.control_key, known_hosts=swapped, command=("true",))
    proc, _ = ssh(target)
    assert isinstance(refusal(first.name, target, proc), HostKeyChanged)


def test_a_key_the_host_does_not_know_is_refused(peer: SandboxPeer, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True, timeout=30)
    target = peer.target(key=stranger, command=("true",))
    proc, _ = ssh(target)
    err = refusal(peer.name, target, proc)
    assert isinstance(err, AuthenticationRefused), err
    assert f"root@{peer.address} refused apsis's key" in str(err)


def test_a_cut_link_is_unreachable_within_the_connect_timeout(peer: SandboxPeer) -> None:
    target = peer.target(key=peer.control_key, command=("true",), connect_timeout=2)
    with link_cut(peer):
        proc, took = ssh(target)
    err = refusal(peer.name, target, proc)
    assert isinstance(err, HostUnreachable), err
    assert took < target.connect_timeout + 3, f"ssh took {took:.1f}s to give up"


def test_keep_alives_end_a_session_whose_link_is_cut(peer: SandboxPeer) -> None:
    """A live session with nothing to say: only the keep-alives can tell the link is gone."""
    target = peer.target(key=peer.control_key, command=("sh", "-c", "echo ready; exec sleep 300"),
                         alive_interval=1, alive_count=2)
    session = subprocess.Popen(ssh_argv(target), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert session.stdout is not None
        assert session.stdout.readline() == "ready\n", "the session did not start"
        with link_cut(peer):
            cut = time.monotonic()
            _, stderr = session.communicate(timeout=30)
            took = time.monotonic() - cut
    finally:
        if session.poll() is None:
            session.kill()
            session.wait(timeout=10)
    err = failure(peer.name, target, session.returncode, stderr)
    assert isinstance(err, HostUnreachable), err
    assert "keep-alives" in str(err)
    limit = target.alive_interval * (target.alive_count + 1) + 3
    assert took < limit, f"ssh noticed the cut after {took:.1f}s (limit {limit}s)"


def test_a_session_outlives_a_restart_of_its_sshd(peer: SandboxPeer) -> None:
    """As with Debian's ssh.service (KillMode=process): the tests restart sshd under a live agentd."""
    target = peer.target(key=peer.control_key, command=("sh", "-c", "echo ready; read line; echo got $line"))
    session = subprocess.Popen(ssh_argv(target), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert session.stdout is not None
        assert session.stdout.readline() == "ready\n", "the session did not start"
        before = on_peer(peer, ["systemctl", "show", "-P", "MainPID", peer.sshd_unit]).stdout
        restart_sshd(peer)
        assert on_peer(peer, ["systemctl", "show", "-P", "MainPID", peer.sshd_unit]).stdout != before
        out, err = session.communicate("still here\n", timeout=30)
    finally:
        if session.poll() is None:
            session.kill()
            session.wait(timeout=10)
    assert (session.returncode, out) == (0, "got still here\n"), err
