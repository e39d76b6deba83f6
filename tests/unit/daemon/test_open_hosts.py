"""The daemon's hosts by name: local is the LocalHost it builds; each [hosts.NAME] is built by remote_host() and
entered for as long as apsisd runs; without agentd.remote, a configured remote host is a clear error. (RemoteHost
itself is agentd's; these tests stand in for it.)"""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import Any

import pytest

from agentd.host import Host
from apsisd.config.hosts import HostSettings, HostTable
from apsisd.daemon import hosts as daemon_hosts
from apsisd.daemon.hosts import RemoteHostsUnavailable, open_hosts, remote_host

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
            return await open_hosts(stack, LOCAL_HOST, HostTable(), KNOWN)
    assert asyncio.run(main()) == {"local": LOCAL_HOST}


def test_each_remote_host_is_made_entered_and_closed_with_apsisd() -> None:
    log: list[str] = []
    made: list[tuple[str, HostSettings, Path]] = []

    def make(name: str, settings: HostSettings, known_hosts: Path) -> Host:
        made.append((name, settings, known_hosts))
        return Opened(name, log)  # type: ignore[return-value]

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            hosts = await open_hosts(stack, LOCAL_HOST, TABLE, KNOWN, make)
            assert list(hosts) == ["local", "db1", "db2"] and hosts["local"] is LOCAL_HOST
            assert [host.name for name, host in hosts.items() if name != "local"] == ["db1", "db2"]  # type: ignore
            assert log == ["open db1", "open db2"]
        assert log == ["open db1", "open db2", "close db2", "close db1"]

    asyncio.run(main())
    assert made == [("db1", TABLE.hosts["db1"], KNOWN), ("db2", TABLE.hosts["db2"], KNOWN)]


def test_remote_host_gives_agentd_s_remote_host_plain_values(monkeypatch: pytest.MonkeyPatch) -> None:
    given: dict[str, Any] = {}
    module = SimpleNamespace(RemoteHost=lambda **kwargs: given.update(kwargs) or "a host")
    monkeypatch.setattr(daemon_hosts.importlib, "import_module",
                        lambda name: module if name == "agentd.remote.host" else None)
    assert remote_host("db1", TABLE.hosts["db1"], KNOWN) == "a host"
    assert given == {"name": "db1", "destination": "root@db1.example", "port": 2222, "identity": None,
                     "command": ("agentd",), "known_hosts": KNOWN, "connect_timeout": 10.0,
                     "keepalive_interval": 15.0, "keepalive_count": 3, "unreachable_after": 120.0}


def test_without_agentd_remote_a_remote_host_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(daemon_hosts.importlib, "import_module", missing)
    with pytest.raises(RemoteHostsUnavailable, match=r"^\[hosts.db1\]: this apsis has no remote hosts "
                                                     r"\(agentd.remote.host is missing: .*\); install a complete "
                                                     r"apsis, or remove the \[hosts.NAME\] tables$"):
        remote_host("db1", TABLE.hosts["db1"], KNOWN)
