"""The remote hosts of apsisd.toml: `[hosts.NAME]` (how ssh reaches the host and runs agentd there) and
`[host_groups.NAME]` (hosts a run may go to, one picked per run).

Like the other settings, each key is one record (HOST_SETTINGS, GROUP_SETTINGS) from which the file is read and
the sample file and the docs' table are written; the rules that tie the tables together (a group lists known
hosts, no name is both a host and a group, `local` is apsisd's own) are checked here, each problem at its line.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from apsisd.config import host_kinds, kinds
from apsisd.config.setting import Setting
from apsisd.errors import InvalidFields, invalid
from apsisd.fields import REQUIRED, Fields, describe
from apsisd.jobs.hosts import LOCAL, HostGroup, Pick, host_name

T = TypeVar("T")
HOST = "hosts.NAME"  # the section of HOST_SETTINGS, as the docs name it
GROUP = "host_groups.NAME"


@dataclass(frozen=True, slots=True, kw_only=True)
class HostSettings:
    """`[hosts.NAME]`: what HOST_SETTINGS says of each key, by its key."""

    name: str
    ssh: str
    port: int | None = None
    identity: Path | None = None
    agentd: tuple[str, ...] = ("agentd",)
    connect_timeout: int = 10
    keepalive_interval: int = 15
    keepalive_count: int = 3
    unreachable_after: float = 120.0

    @property
    def link_timeout(self) -> int:
        """Seconds of silence after which ssh gives the link up: keep-alives unanswered `count` times."""
        return self.keepalive_interval * self.keepalive_count


@dataclass(frozen=True, slots=True)
class HostTable:
    """Every remote host and group of the file, by name (`local`, apsisd's own host, is in neither)."""

    hosts: Mapping[str, HostSettings] = field(default_factory=dict)
    groups: Mapping[str, HostGroup] = field(default_factory=dict)

    def names(self) -> frozenset[str]:
        """What a job's `host:` may name: local, each host, each group."""
        return frozenset((LOCAL, *self.hosts, *self.groups))


NO_HOSTS = HostTable()
_DEFAULT = HostSettings(name="", ssh="")
HOST_SETTINGS = (
    Setting(section=HOST, key="ssh", kind=host_kinds.SSH_DESTINATION, default=None,
            unset="required", example='"root@db1.example"',
            doc="Where ssh connects, as `ssh` takes it: `user@host`, or a host (or a `Host` of ssh_config) whose "
                "user ssh_config gives. The user is whom agentd runs as: root drives the system's systemd, any "
                "other user their own `systemd --user` (with lingering on). ssh_config applies (ProxyJump, "
                "certificates), but host keys are checked against apsisd's own `[ssh] known_hosts` only."),
    Setting(section=HOST, key="port", kind=host_kinds.PORT, default=None,
            unset="ssh_config's, else 22", example="2222",
            doc="The port sshd listens on."),
    Setting(section=HOST, key="identity", kind=kinds.FILE, default=None,
            unset="ssh's own keys, agent and ssh_config", example='"/etc/apsis/ssh/id_ed25519"',
            doc="The private key apsisd authenticates with (ssh's `-i`; only this key is then offered)."),
    Setting(section=HOST, key="agentd", kind=host_kinds.AGENTD_COMMAND, default=_DEFAULT.agentd,
            example='["/opt/apsis/bin/agentd"]',
            doc="The command that runs agentd on the host, one word or a list (apsisd adds `serve --stdio`). "
                "Words only, no shell syntax: the remote shell reads them. An `authorized_keys` line with "
                "`command=` overrides it (docs/hosts.md)."),
    Setting(section=HOST, key="connect_timeout", kind=host_kinds.SSH_SECONDS, default=_DEFAULT.connect_timeout,
            doc="How long connecting (TCP, then SSH's handshake) may take before the attempt fails and is made "
                "again later (ssh's ConnectTimeout: whole seconds)."),
    Setting(section=HOST, key="keepalive_interval", kind=host_kinds.SSH_SECONDS, default=_DEFAULT.keepalive_interval,
            doc="A silent link is probed this often (ssh's ServerAliveInterval: whole seconds)..."),
    Setting(section=HOST, key="keepalive_count", kind=host_kinds.KEEPALIVE_COUNT, default=_DEFAULT.keepalive_count,
            doc="...and given up after this many probes go unanswered (ServerAliveCountMax): by default a dead "
                "link is seen within 45 s."),
    Setting(section=HOST, key="unreachable_after", kind=kinds.DURATION, default=_DEFAULT.unreachable_after,
            doc="How long the host may be unreachable before its runs say so (`host unreachable since T`). Runs "
                "go on on the host meanwhile and their outcome is recorded when it is back; this only says when "
                "an operator should hear of it. The default rides out a link seen dead (45 s) and a couple of "
                "reconnects, as a switch or sshd restart takes. At least `keepalive_interval` times "
                "`keepalive_count`."),
)
GROUP_SETTINGS = (
    Setting(section=GROUP, key="hosts", kind=kinds.Kind(lambda value, _folder: _members(value)), default=None,
            unset="required", example='["db1", "db2"]',
            doc="The group's hosts: names of `[hosts.NAME]` tables, or `local`; not other groups. A run of a job "
                "whose `host:` is the group goes to one of them, recorded on the run."),
    Setting(section=GROUP, key="pick", kind=host_kinds.PICK, default=Pick.ROUND_ROBIN,
            doc='How each run\'s host is picked: `"round-robin"` (each host in turn, in the order listed; the turn '
                'starts again with the first when apsisd restarts) or `"random"`.'),
)


def read_host_table(top: Fields, folder: Path) -> HostTable:
    """The `hosts` and `host_groups` tables of the file's `top`; every problem added to `top`'s, by path."""
    hosts = _named_tables(top, "hosts", "host", lambda table, name: _host(table, name, folder))
    groups = _named_tables(top, "host_groups", "group", _group)
    # The names as written, a wrong table's too: its problem is said once, not again by each group listing it.
    host_names, group_names = _names(top.raw("hosts")), _names(top.raw("host_groups"))
    for name in sorted(host_names & group_names):
        top.problems.append((("host_groups", name), f"{name!r} is the name of a host too ([hosts.{name}]); "
                                                    "a name is one host or one group: rename one of them"))
    for name, group in groups.items():
        for index, member in enumerate(group.hosts):
            if member in group_names:
                top.problems.append((("host_groups", name, "hosts", index),
                                     f"{member!r} is a group; a group lists hosts, not groups: list its hosts"))
            elif member != LOCAL and member not in host_names:
                known = ", ".join(sorted((LOCAL, *host_names)))
                top.problems.append((("host_groups", name, "hosts", index),
                                     f"no host {member!r}: add a [hosts.{member}] table, or list one of: {known}"))
    return HostTable(hosts=hosts, groups=groups)


def _names(written: Any) -> set[str]:
    return {str(name) for name in written if name != LOCAL} if isinstance(written, dict) else set()


def _named_tables(top: Fields, key: str, what: str, read: Callable[[Fields, str], T]) -> dict[str, T]:
    """`[hosts]` of `top`: a table of `[hosts.NAME]` tables, each name checked and each table read by `read`. The
    tables read whole, whatever is wrong with the others, so that what refers to them is checked too; every
    problem is added to `top`'s."""
    value = top.raw(key, {})
    if not isinstance(value, dict):
        top.problems.append(((key,), f"must be a table of [{key}.NAME] tables, not {describe(value)}"))
        return {}
    result: dict[str, T] = {}
    for name, body in value.items():
        try:
            if name == LOCAL:
                raise invalid(f"{LOCAL!r} is apsisd's own host, which needs no table; give this {what} another "
                              "name")
            host_name(name)
            if not isinstance(body, dict):
                raise invalid(f"must be a table of keys ([{key}.{name}]), not {describe(body)}")
            table = Fields(body)
            item = read(table, name)
            table.done()
            result[name] = item
        except InvalidFields as exc:
            top.problems.extend(exc.under(key, name).problems)
    return result


def _values(table: Fields, settings: tuple[Setting, ...], folder: Path) -> dict[str, Any]:
    """Each key of `settings` read from `table`: required if it has no default."""
    return {setting.key: table.take(setting.key, setting.kind.reader(folder),
                                    REQUIRED if setting.unset == "required" else setting.default)
            for setting in settings}


def _host(table: Fields, name: str, folder: Path) -> HostSettings:
    host = HostSettings(name=name, **_values(table, HOST_SETTINGS, folder))  # with problems: done() raises
    if host.unreachable_after < host.link_timeout:
        table.problems.append((("unreachable_after",), f"is {host.unreachable_after:g}s, less than the "
                               f"{host.link_timeout:g}s (keepalive_interval times keepalive_count) it takes to see "
                               "the link is down; make it at least that"))
    return host


def _group(table: Fields, name: str) -> HostGroup:
    return HostGroup(name=name, **_values(table, GROUP_SETTINGS, Path()))  # with problems: done() raises


def _members(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise invalid(f'must be a list of host names, such as ["db1", "db2"], not {describe(value)}')
    if not value:
        raise invalid("is empty: list one host or more (a group with no host could run nothing)")
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        try:
            member = host_name(item)
        except InvalidFields as exc:
            problems.extend(exc.under(index).problems)
            continue
        if member in seen:
            problems.append(((index,), f"{member!r} is listed twice; list each host once"))
        seen.add(member)
    if problems:
        raise InvalidFields(problems)
    return tuple(value)
