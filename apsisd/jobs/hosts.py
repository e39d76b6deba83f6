"""The names a run's host is given by: `local` (apsisd's own host), a host of apsisd.toml's `[hosts.NAME]` or a
group of them (`[host_groups.NAME]`), and how a group picks one of its hosts.

In the domain because a job's `host:`, an ad hoc run's `host`, the configuration and the scheduler all speak of
these names: each checks a name against the same rule, and the scheduler routes by the groups read here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from apsisd.errors import invalid
from apsisd.fields import describe

LOCAL = "local"  # apsisd's own host: reserved, never configured
# A name goes into log lines, metrics labels, unit descriptions and the API's paths: a letter, then letters,
# digits, `_` and `-`, no more than a DNS label's 63.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}", re.ASCII)
NAME_RULE = "a letter, then letters, digits, _ or -, 63 at most (such as db1 or web-eu)"


class Pick(StrEnum):
    """How a group chooses the host of each of its runs."""

    ROUND_ROBIN = "round-robin"  # each member in turn: the runs are spread evenly
    RANDOM = "random"  # any member: no state, and no pattern two groups' runs can fall into together


@dataclass(frozen=True, slots=True, kw_only=True)
class HostGroup:
    """`[host_groups.NAME]`: its member hosts, in the order written (round-robin goes through them so)."""

    name: str
    hosts: tuple[str, ...]
    pick: Pick = Pick.ROUND_ROBIN


def host_name(value: Any) -> str:
    """A host's or a group's name as written (a job's `host:`, an ad hoc run's `host`), checked for its form only:
    whether it names a configured host is known to whoever holds the configuration."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        shown = describe(value) if not isinstance(value, str) or len(value) > 40 else repr(value)
        raise invalid(f"must be the name of a host or a group: {NAME_RULE}; not {shown}")
    return value


def unknown_host(name: str, known: frozenset[str]) -> str | None:
    """What is wrong with `name` as a run's host, given the `known` names (hosts, groups, local); None if nothing."""
    if name in known:
        return None
    listed = ", ".join(sorted(known))
    return (f"no host or group {name!r} in apsisd.toml; use one of: {listed}, or add [hosts.{name}] (or "
            f"[host_groups.{name}]) to apsisd.toml and restart apsisd")
