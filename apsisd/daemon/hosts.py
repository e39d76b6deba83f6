"""The hosts apsisd drives, by name: its own (the LocalHost main.py builds) as `local`, and each `[hosts.NAME]` of
apsisd.toml through agentd over SSH (agentd.remote.host.RemoteHost), opened for as long as apsisd runs.

remote_host() is the one place that builds a remote host. It imports RemoteHost when a remote host is configured,
not before: an apsisd with no `[hosts.NAME]` never loads the SSH transport. RemoteHost is agentd's, which imports
nothing of apsisd, so it is given plain values, not apsisd's HostSettings.
"""
from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentd.host import Host
from apsisd.config.hosts import HostSettings, HostTable
from apsisd.errors import ApsisError
from apsisd.jobs.hosts import LOCAL

REMOTE_MODULE = "agentd.remote.host"  # where RemoteHost lives
MakeRemote = Callable[[str, HostSettings, Path], Host]


class RemoteHostsUnavailable(ApsisError):
    """apsisd.toml names remote hosts, and this installation of apsis cannot reach any."""


def remote_host(name: str, settings: HostSettings, known_hosts: Path) -> Host:
    """The Host `[hosts.NAME]` describes: agentd on it, over one long-lived ssh, host keys checked against
    `known_hosts` only."""
    try:
        module: Any = importlib.import_module(REMOTE_MODULE)
    except ModuleNotFoundError as exc:
        raise RemoteHostsUnavailable(f"[hosts.{name}]: this apsis has no remote hosts ({REMOTE_MODULE} is missing: "
                                     f"{exc}); install a complete apsis, or remove the [hosts.NAME] tables") from None
    made: Host = module.RemoteHost(
        name=name, destination=settings.ssh, port=settings.port, identity=settings.identity,
        command=settings.agentd, known_hosts=known_hosts, connect_timeout=settings.connect_timeout,
        keepalive_interval=settings.keepalive_interval, keepalive_count=settings.keepalive_count,
        unreachable_after=settings.unreachable_after)
    return made


async def open_hosts(stack: contextlib.AsyncExitStack, local: Host, table: HostTable, known_hosts: Path,
                     make: MakeRemote = remote_host) -> dict[str, Host]:
    """Every host by name, `local` first; a remote host that is an async context manager is entered on `stack`,
    closed with it (after the scheduler, which main.py closes first)."""
    hosts: dict[str, Host] = {LOCAL: local}
    for name, settings in table.hosts.items():
        host = make(name, settings, known_hosts)
        if isinstance(host, contextlib.AbstractAsyncContextManager):
            host = await stack.enter_async_context(host)
        hosts[name] = host
    return hosts
