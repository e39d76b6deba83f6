"""The kinds of value of a `[hosts.NAME]` table: what ssh is given, checked so that no value can become an option
of ssh or code for the remote shell (args are data, never code).

ssh joins the remote command into one string that the remote user's shell reads, so `agentd` is held to words
a shell reads as themselves; and a destination that began with `-` would be read by ssh as an option.
"""
from __future__ import annotations

import re
from typing import Any

from apsisd.config.kinds import Kind, duration_text, toml_value
from apsisd.errors import invalid
from apsisd.fields import describe, each
from apsisd.jobs.hosts import Pick
from apsisd.jobs.scheduling import positive_duration

MAX_SSH_SECONDS = 86400  # ssh's timers are whole seconds; a day is far past any sane one

_USER = r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}"
# A host name, an alias of ssh_config, an IPv4 or a bare IPv6 address (ssh takes root@::1, no brackets).
_HOST = r"[A-Za-z0-9_.:%][A-Za-z0-9_.:%-]{0,252}"
_DESTINATION = re.compile(rf"(?:{_USER}@)?{_HOST}", re.ASCII)
_WORD = re.compile(r"[A-Za-z0-9_./+@%=:,-]+", re.ASCII)  # nothing a shell would interpret


def _destination(value: Any) -> str:
    if not isinstance(value, str) or not _DESTINATION.fullmatch(value):
        shown = describe(value) if not isinstance(value, str) or len(value) > 40 else repr(value)
        raise invalid(f"must be where ssh connects, as ssh takes it: user@host (or a host, or a Host of "
                      f"ssh_config), such as root@db1.example; not {shown}")
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise invalid(f"must be a TCP port, a whole number from 1 to 65535, not {describe(value)}")
    return value


def _word(value: Any) -> str:
    if not isinstance(value, str) or not _WORD.fullmatch(value) or len(value) > 4096:
        raise invalid(f"must be a word the remote shell reads as itself (letters, digits and _ . / + @ % = : , -), "
                      f"such as /usr/local/bin/agentd; not {describe(value)}")
    return value


def _command(value: Any) -> tuple[str, ...]:
    """The command that runs agentd on the host, one word or a list of them (`["sudo", "-n", "agentd"]`)."""
    if value == []:
        raise invalid('must name the command, such as "agentd" or "/usr/local/bin/agentd"')
    words = tuple(each(_word)(value))
    if words[0].startswith("-"):
        raise invalid(f"must begin with the command, not an option such as {words[0]!r}")
    return words


def _write_command(value: tuple[str, ...]) -> str:
    return toml_value(value[0]) if len(value) == 1 else toml_value(value)


def _whole_seconds(value: Any) -> int:
    """A duration ssh takes (ConnectTimeout, ServerAliveInterval): whole seconds, 1 or more."""
    seconds = positive_duration(value)
    if seconds != int(seconds) or seconds > MAX_SSH_SECONDS:
        raise invalid(f"must be whole seconds from 1 to 1d (ssh counts in seconds), such as 10 or \"15s\", not "
                      f"{describe(value)}")
    return int(seconds)


def _keepalive_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise invalid(f"must be a whole number of keep-alives from 1 to 100, not {describe(value)}")
    return value


def _pick(value: Any) -> Pick:
    try:
        return Pick(value)
    except ValueError:
        raise invalid(f"must be one of {', '.join(repr(pick.value) for pick in Pick)}, not {describe(value)}") from None


def _plain(parse: Any, write: Any = toml_value) -> Kind:
    return Kind(lambda value, _folder: parse(value), write)


SSH_DESTINATION = _plain(_destination)
PORT = _plain(_port)
AGENTD_COMMAND = _plain(_command, _write_command)
KEEPALIVE_COUNT = _plain(_keepalive_count)
SSH_SECONDS = _plain(_whole_seconds, duration_text)
PICK = _plain(_pick)
