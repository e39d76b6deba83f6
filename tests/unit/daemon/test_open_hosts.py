"""The daemon's hosts by name: local is the LocalHost it builds; each [hosts.NAME] is built by remote_host() and
entered for as long as apsisd runs, through agentd's RemoteHost over the ssh its settings make (not connected
here: tests/integration/test_ssh_transport.py reaches real sshds)."""
from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from types import TracebackType

from agentd.host import Host
from agentd.remote.host import RemoteHost
from agentd.remote.ssh import SshTarget, ssh_argv
from apsisd.config.hosts import HostSettings, HostTable
from apsisd.daemon.hosts import open_hosts, remote_host, scheduler_identity, ssh_target

LOCAL_HOST: Host = object()  # type: ignore[assignment]
KNOWN = Path("/var/lib/apsis/known_hosts")
TABLE = HostTable(hosts={"db1": HostSettings(name="db1", ssh="root@db1.example", port=2222),
                         "db2": HostSettings(name="db2", ssh="db2")})


class Opened:
    """A host that is an async context manager, as a remote host with its ssh link is; `log` says what it did."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def __aenter__(self) -> Opened:
        self.log.append(f"open {self.name}")
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.log.append(f"close {self.name}")


def test_without_remote_hosts_local_alone() -> None:
    async def main() -> dict[str, Host]:
        async with contextlib.AsyncExitStack() as stack:
            return await open_hosts(stack, LOCAL_HOST, HostTable(), KNOWN, "s1")
    assert asyncio.run(main()) == {"local": LOCAL_HOST}


def test_each_remote_host_is_made_entered_and_closed_with_apsisd() -> None:
    log: list[str] = []
    made: list[tuple[str, HostSettings, Path, str]] = []

    def make(name: str, settings: HostSettings, known_hosts: Path, scheduler: str) -> Host:
        made.append((name, settings, known_hosts, scheduler))
        return Opened(name, log)  # type: ignore[return-value]

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            hosts = await open_hosts(stack, LOCAL_HOST, TABLE, KNOWN, "s1", make)
            assert list(hosts) == ["local", "db1", "db2"] and hosts["local"] is LOCAL_HOST
            assert [host.name for name, host in hosts.items() if name != "local"] == ["db1", "db2"]  # type: ignore
            assert log == ["open db1", "open db2"]
        assert log == ["open db1", "open db2", "close db2", "close db1"]

    asyncio.run(main())
    assert made == [("db1", TABLE.hosts["db1"], KNOWN, "s1"), ("db2", TABLE.hosts["db2"], KNOWN, "s1")]


def test_the_ssh_target_is_the_host_s_settings() -> None:
    settings = HostSettings(name="db1", ssh="root@db1.example", port=2222, identity=Path("/etc/apsis/id"),
                            agentd=("sudo", "-n", "/opt/agentd"), connect_timeout=7, keepalive_interval=20,
                            keepalive_count=4)
    assert ssh_target(settings, KNOWN) == SshTarget(
        destination="root@db1.example", known_hosts=KNOWN, port=2222, identity_file=Path("/etc/apsis/id"),
        connect_timeout=7, alive_interval=20, alive_count=4, command=("sudo", "-n", "/opt/agentd", "serve", "--stdio"))
    argv = ssh_argv(ssh_target(HostSettings(name="db2", ssh="db2"), KNOWN))
    assert argv[-4:] == ["--", "db2", "agentd", "serve", "--stdio"][-4:] and "StrictHostKeyChecking=yes" in argv
    assert f"UserKnownHostsFile={KNOWN}" in argv and "ConnectTimeout=10" in argv and "ServerAliveInterval=15" in argv


def test_remote_host_is_agentd_s_remote_host_not_yet_connected() -> None:
    host = remote_host("db1", TABLE.hosts["db1"], KNOWN, "s1")
    assert isinstance(host, RemoteHost) and host.name == "db1" and not host.reachable


def test_remote_host_explains_a_failed_ssh_in_failure_s_words() -> None:
    """What an unreachable host's `problem` says: which host key changed, and what to do about it in which file."""
    host = remote_host("db1", TABLE.hosts["db1"], KNOWN, "s1")
    assert isinstance(host, RemoteHost) and host._explain is not None
    stderr = "Host key for [db1.example]:2222 has changed and you have requested strict checking.\n"
    why = host._explain(255, stderr)
    assert why is not None and why.startswith("host db1: the SSH host key of [db1.example]:2222 has changed")
    assert f"-f {KNOWN}" in why


def test_the_scheduler_s_identity_is_stable_and_differs_by_machine_and_state_folder(tmp_path: Path) -> None:
    machine = tmp_path / "machine-id"
    machine.write_text("0123456789abcdef0123456789abcdef\n")
    other = tmp_path / "other-id"
    other.write_text("fedcba9876543210fedcba9876543210\n")
    ours = scheduler_identity(Path("/var/lib/apsis"), machine)
    assert re.fullmatch(r"[0-9a-f]{16}", ours)  # what RemoteHost takes: 1 to 32 lowercase letters and digits
    assert scheduler_identity(Path("/var/lib/apsis"), machine) == ours  # across restarts
    assert scheduler_identity(Path("/srv/apsis"), machine) != ours  # a second apsisd on this machine
    assert scheduler_identity(Path("/var/lib/apsis"), other) != ours  # the same folder on another machine
    assert re.fullmatch(r"[0-9a-f]{16}", scheduler_identity(Path("/var/lib/apsis"), tmp_path / "none"))
