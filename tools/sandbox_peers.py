"""The peer hosts of a multi-host sandbox: their keys, their link to the main sandbox, their test sshd.

`tools/sandbox.py run --hosts N` boots N peer sandboxes beside the main one
(each its own systemd in its own namespaces, booted exactly as the main one)
and hands each to this module, which makes it a host the main sandbox
reaches over SSH, as apsisd reaches a remote host:

- a veth pair between the main sandbox's network namespace and the peer's,
  with a private /30 on it; both ends live in namespaces the harness made,
  so nothing of the host's own network is touched or even seen;
- an sshd of the test's own on the peer, as a transient unit of the peer's
  systemd, listening on the peer's end only, with its own ed25519 host key;
- two client keys per run: a control key (unrestricted: tests act on the
  peer with it: restart sshd, kill agentd, change the host key) and apsis's
  key, which the peer's authorized_keys lets run agentd and nothing else;
  and a known_hosts file with every peer's host key.

The root file system is shared by every sandbox and /tmp is private to each,
so all of it lives in one state folder under the checkout
(`.sandbox-hosts/<main sandbox name>/`), removed at teardown. The command in
the main sandbox finds the peers through $APSIS_SANDBOX_HOSTS, the path of a
JSON file describing them (`hosts_file()`).

Standard library only, like tools/sandbox.py.
"""
from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

STATE_DIR = ".sandbox-hosts"
HOSTS_ENV = "APSIS_SANDBOX_HOSTS"
SSHD_UNIT = "apsis-test-sshd.service"
# Carved into /30s, one per peer; only ever configured inside the sandboxes' own namespaces.
NETWORK = ipaddress.ip_network("10.77.0.0/16")
MAX_PEERS = NETWORK.num_addresses // 4
SSHD_TIMEOUT = 30.0

SSHD_CONFIG = """\
# The test sshd of sandbox peer {name}; made by tools/sandbox_peers.py, gone at teardown.
ListenAddress {address}
Port 22
HostKey {host_key}
AuthorizedKeysFile {authorized_keys}
PidFile {pid_file}
# The keys live in the checkout, whose modes sshd would otherwise judge.
StrictModes no
# No PAM: it would want /run/nologin gone and the host's /var/log (read-only here).
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
PrintLastLog no
# Root reads the run's file above only; any other user (tests/integration/test_remote_user.py makes one in
# a peer's own mount namespace) its own file, as on a real host: a key is let in as that user by that user.
Match User *,!root
    AuthorizedKeysFile %h/.ssh/authorized_keys
"""


class PeerError(Exception):
    """A peer could not be made a reachable host (the harness then tears everything down)."""


class Booted(Protocol):
    """What this module needs of a booted sandbox (tools/sandbox.py's Sandbox)."""

    pid: int | None

    def enter_argv(self, argv: list[str], cwd: str | None = None) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Peer:
    """One peer as the command inside the main sandbox sees it (one entry of the hosts file)."""

    name: str
    address: str  # the peer's end: where its sshd listens
    main_address: str  # the main sandbox's end of the same /30
    veth: str  # the link's name on the main side (`ip link set <veth> down` cuts the peer off)
    folder: str  # the peer's state: its host key, sshd config, authorized_keys, sshd's pid file
    host_key: str  # private key file (its .pub beside it)
    sshd_config: str
    sshd_unit: str
    authorized_keys: str
    known_hosts: str  # every peer's host key (one file for the run)
    control_key: str  # unrestricted root login
    apsis_key: str  # forced to `agentd serve --stdio`


def state_folder(checkout: Path, run: str) -> Path:
    return checkout / STATE_DIR / run


def addresses(index: int) -> tuple[str, str]:
    """The main sandbox's and the peer's addresses on peer `index`'s /30 (0-based)."""
    if not 0 <= index < MAX_PEERS:
        raise ValueError(f"peer {index}: at most {MAX_PEERS} peers")
    base = NETWORK.network_address + 4 * index
    return str(base + 1), str(base + 2)


def keygen(path: Path, comment: str) -> None:
    """A fresh ed25519 key pair at path (and path.pub), replacing any: a file-only tool, no ~/.ssh."""
    for old in (path, path.with_name(path.name + ".pub")):
        old.unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True, timeout=30)


def public_key(path: Path) -> str:
    """`type base64` of a key pair's public half, without its comment."""
    return " ".join(path.with_name(path.name + ".pub").read_text().split()[:2])


def make_peers(state: Path, checkout: Path, count: int) -> list[Peer]:
    """Keys, sshd configs, authorized_keys and known_hosts for `count` peers, all under `state`."""
    state.mkdir(parents=True)
    control, apsis = state / "control_key", state / "apsis_key"
    keygen(control, "sandbox control key")
    keygen(apsis, "apsis key")
    agentd = checkout / ".venv" / "bin" / "agentd"
    authorized = (
        f"{public_key(control)} sandbox-control\n"
        # What docs/hosts.md tells operators to write: apsis's key runs agentd and nothing else.
        f'command="{agentd} serve --stdio",restrict {public_key(apsis)} apsis\n'
    )
    known_hosts = state / "known_hosts"
    peers, known = [], []
    for index in range(count):
        name = f"host{index + 1}"
        main_address, address = addresses(index)
        folder = state / name
        folder.mkdir()
        host_key = folder / "ssh_host_ed25519_key"
        keygen(host_key, name)
        known.append(f"{address} {public_key(host_key)}\n")
        (folder / "authorized_keys").write_text(authorized)
        config = folder / "sshd_config"
        config.write_text(SSHD_CONFIG.format(name=name, address=address, host_key=host_key,
                                             authorized_keys=folder / "authorized_keys",
                                             pid_file=folder / "sshd.pid"))
        peers.append(Peer(name=name, address=address, main_address=main_address, veth=f"to-{name}",
                          folder=str(folder), host_key=str(host_key), sshd_config=str(config),
                          sshd_unit=SSHD_UNIT, authorized_keys=str(folder / "authorized_keys"),
                          known_hosts=str(known_hosts), control_key=str(control), apsis_key=str(apsis)))
    known_hosts.write_text("".join(known))
    return peers


def join(main: Booted, peer_sandbox: Booted, peer: Peer) -> None:
    """The veth pair between the two sandboxes, its /30 and both ends up; then the peer's sshd.

    The pair is made from inside the main sandbox's network namespace with
    its other end sent straight into the peer's, so it never exists in the
    host's namespace, not even for a moment.
    """
    assert main.pid is not None and peer_sandbox.pid is not None
    _run(["nsenter", "-t", str(main.pid), "-n", "sh", "-euc",
          'ip link add "$1" type veth peer name eth0 netns "$2"; '
          'ip addr add "$3/30" dev "$1"; ip link set "$1" up',
          "sh", peer.veth, str(peer_sandbox.pid), peer.main_address])
    _run(["nsenter", "-t", str(peer_sandbox.pid), "-n", "sh", "-euc",
          'ip addr add "$1/30" dev eth0; ip link set eth0 up', "sh", peer.address])
    start_sshd(peer_sandbox, peer)


def start_sshd(peer_sandbox: Booted, peer: Peer) -> None:
    """The peer's test sshd, a transient unit of its own systemd.

    KillMode=process, as Debian's ssh.service: restarting sshd (a test does,
    through a session of that same sshd) leaves the sessions running.
    """
    _run(peer_sandbox.enter_argv([
        "systemd-run", "--quiet", f"--unit={peer.sshd_unit}", "--property=RuntimeDirectory=sshd",
        "--property=KillMode=process", "/usr/sbin/sshd", "-D", "-f", peer.sshd_config]))


def wait_sshd(peers: list[Peer], timeout: float = SSHD_TIMEOUT) -> None:
    """Until every peer's sshd listens: it writes its pid file once its socket is bound."""
    deadline = time.monotonic() + timeout
    waiting = [p for p in peers if not (Path(p.folder) / "sshd.pid").exists()]
    while waiting:
        if time.monotonic() > deadline:
            raise PeerError(f"sshd of {', '.join(p.name for p in waiting)} not listening after {timeout}s")
        time.sleep(0.02)
        waiting = [p for p in waiting if not (Path(p.folder) / "sshd.pid").exists()]


def hosts_file(state: Path, peers: list[Peer]) -> Path:
    """The JSON file $APSIS_SANDBOX_HOSTS names: {"hosts": [Peer, ...]}."""
    path = state / "hosts.json"
    path.write_text(json.dumps({"hosts": [asdict(p) for p in peers]}, indent=2) + "\n")
    return path


def remove_state(state: Path) -> None:
    shutil.rmtree(state, ignore_errors=True)
    try:
        state.parent.rmdir()  # .sandbox-hosts itself, once no other run uses it
    except OSError:
        pass


def sweep_stale_state(checkout: Path, prefix: str, alive: Callable[[int], bool]) -> list[str]:
    """Remove state folders of runs whose harness died without tearing down (named `<prefix><pid>-...`)."""
    removed = []
    root = checkout / STATE_DIR
    for folder in root.glob(prefix + "*") if root.is_dir() else ():
        try:
            owner = int(folder.name[len(prefix):].split("-")[0])
        except ValueError:
            continue
        if not alive(owner):
            remove_state(folder)
            removed.append(folder.name)
    return removed


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise PeerError(f"{argv[0]} ... {argv[-1]} failed ({proc.returncode}): {proc.stderr.strip()}")
