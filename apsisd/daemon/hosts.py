"""The hosts apsisd drives, by name: its own (the LocalHost main.py builds) as `local`, and each `[hosts.NAME]` of
apsisd.toml through agentd over SSH, opened for as long as apsisd runs.

remote_host() is the one place that builds a remote host. It imports the SSH transport when a remote host is
configured, not before: an apsisd with no `[hosts.NAME]` never loads it. agentd imports nothing of apsisd, so
ssh_target() turns apsisd's HostSettings into agentd's SshTarget here.
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path

from agentd.host import Host
from agentd.remote.ssh import AGENTD_COMMAND, SshTarget
from apsisd.config.hosts import HostSettings, HostTable
from apsisd.jobs.hosts import LOCAL

MakeRemote = Callable[[str, HostSettings, Path, str], Host]
MACHINE_ID = Path("/etc/machine-id")
SERVE = AGENTD_COMMAND[1:]  # what follows the agentd command: `serve --stdio`


def ssh_target(settings: HostSettings, known_hosts: Path) -> SshTarget:
    """How ssh reaches the host `settings` describes, host keys checked against `known_hosts` only."""
    return SshTarget(destination=settings.ssh, known_hosts=known_hosts, port=settings.port,
                     identity_file=settings.identity, connect_timeout=settings.connect_timeout,
                     alive_interval=settings.keepalive_interval, alive_count=settings.keepalive_count,
                     command=(*settings.agentd, *SERVE))


def scheduler_identity(state_dir: Path, machine_id: Path = MACHINE_ID) -> str:
    """This apsisd's name on remote hosts (the prefix of its runs' ids there, so that two schedulers never adopt
    each other's units): 16 hex digits of this machine's id and the state folder, the same across restarts, as
    long as its runs live; another apsisd (another machine, or another state folder here) gets another one."""
    try:
        machine = machine_id.read_text().strip()
    except OSError:
        machine = ""  # no machine id: the state folder alone still tells the apsisds of this machine apart
    return hashlib.sha256(f"{machine}\0{state_dir.absolute()}".encode()).hexdigest()[:16]


def remote_host(name: str, settings: HostSettings, known_hosts: Path, scheduler: str) -> Host:
    """The Host `[hosts.NAME]` describes: agentd on it, over one long-lived ssh (not started until opened), as
    the scheduler `scheduler` (scheduler_identity())."""
    from agentd.remote.host import RemoteHost  # the transport, loaded only for a configured remote host
    from agentd.remote.link import Link, ProcessLink
    from agentd.remote.ssh import explainer, ssh_argv

    target = ssh_target(settings, known_hosts)
    argv = ssh_argv(target)

    async def connect() -> Link:
        return await ProcessLink.spawn(argv, name)

    return RemoteHost(name, connect, scheduler=scheduler, explain=explainer(name, target))


async def open_hosts(stack: contextlib.AsyncExitStack, local: Host, table: HostTable, known_hosts: Path,
                     scheduler: str, make: MakeRemote = remote_host) -> dict[str, Host]:
    """Every host by name, `local` first; a remote host that is an async context manager (its link) is entered
    on `stack`, closed with it (after the scheduler, which main.py closes first)."""
    hosts: dict[str, Host] = {LOCAL: local}
    for name, settings in table.hosts.items():
        host = make(name, settings, known_hosts, scheduler)
        if isinstance(host, contextlib.AbstractAsyncContextManager):
            host = await stack.enter_async_context(host)
        hosts[name] = host
    return hosts
