"""How apsis calls the OpenSSH client to reach agentd on a host, and what a failed ssh means.

apsis does not speak SSH itself: it runs the operator's own `ssh`, so their
ssh_config (ProxyJump, certificates, User, HostName aliases) applies as it does
at their prompt. What apsis sets on top is only what its safety needs, each
option below with its reason. The argv is a list handed to exec, never a
shell string: no value of a host's configuration is ever parsed as code on
this side.

ssh exits 255 when ssh itself failed (and with the remote command's own
status otherwise); `failure()` reads its stderr into one of the typed errors
below, each with a message that says what happened and what to do.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agentd.errors import HostError

AGENTD_COMMAND = ("agentd", "serve", "--stdio")
SSH_FAILED = 255  # ssh's own exit status for its own failures; anything else is the remote command's


@dataclass(frozen=True, slots=True, kw_only=True)
class SshTarget:
    """One host as ssh reaches it.

    `destination` is what the operator would type after `ssh` (`root@db1.example`,
    or a Host alias of their ssh_config). `known_hosts` is apsis's own file: the
    only host keys apsis trusts. `connect_timeout` bounds the TCP connection and
    the SSH handshake; a live session that gets no answer to `alive_count`
    keep-alives sent every `alive_interval` seconds is dropped by ssh, so a cut
    link is noticed within interval * count seconds even when no data flows.
    """

    destination: str
    known_hosts: Path
    port: int | None = None
    identity_file: Path | None = None
    connect_timeout: int = 10
    alive_interval: int = 5
    alive_count: int = 3
    command: tuple[str, ...] = AGENTD_COMMAND

    def __post_init__(self) -> None:
        # Configuration is checked (with its FILE:LINE) before a target is made;
        # these are the invariants the argv relies on, not user-facing checks.
        if not self.destination or self.destination.startswith("-") or any(c.isspace() for c in self.destination):
            raise ValueError(f"ssh destination {self.destination!r}: not a user@host or a host name")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise ValueError(f"ssh port {self.port}: not between 1 and 65535")
        for name in ("connect_timeout", "alive_interval", "alive_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"ssh {name} {getattr(self, name)}: must be at least 1")
        if not self.command:
            raise ValueError("ssh remote command: empty")

    @property
    def host_name(self) -> str:
        """The host part of the destination (as ssh looks it up in known_hosts, unless ssh_config renames it)."""
        return self.destination.rpartition("@")[2]

    @property
    def known_hosts_name(self) -> str:
        """The host as known_hosts records it: `name`, or `[name]:port` off port 22."""
        if self.port is None or self.port == 22:
            return self.host_name
        return f"[{self.host_name}]:{self.port}"


def ssh_argv(target: SshTarget) -> list[str]:
    """The OpenSSH client's argv that runs the target's command (agentd) on the host, over stdio.

    - `-T`: no terminal: stdio carries agentd's binary frames untouched (no
      line discipline, no CR/LF mangling); `-e none` likewise: no byte is ever
      read as an escape (`~.` would end the session).
    - `BatchMode=yes`: never ask a question (a password, a passphrase, "are
      you sure?"); a daemon has nobody to answer, so fail at once instead.
    - `StrictHostKeyChecking=yes` against `UserKnownHostsFile=<apsis's file>`:
      connect only to a host whose key apsis's file already holds; an unknown
      key is refused, and a changed key is refused (never `no` or
      `accept-new`: the first would trust anyone, the second any first comer).
      `UpdateHostKeys=no`: the file changes only by the operator's hand.
    - `GlobalKnownHostsFile=/dev/null`: apsis's file is the only trust anchor.
      ssh accepts a key found in either file, so leaving the machine's
      /etc/ssh/ssh_known_hosts in would let keys trusted for people's
      interactive use (or a stale entry nobody reviews) vouch for a host apsis
      runs jobs on, and the advice in our errors ("update apsis's
      known_hosts") would not be the whole story. An operator who signs host
      keys puts the `@cert-authority` line in apsis's file.
    - `ServerAliveInterval`/`ServerAliveCountMax`: keep-alives inside the
      encrypted channel, so a cut link ends ssh (exit 255) within
      interval * count seconds, even while agentd has nothing to say.
      `ConnectTimeout` bounds reaching the host and the handshake.
    - `ControlPath=none`: this connection is ssh's own, never a share of an
      operator's multiplexed master, whose keep-alives and exit would not be
      this session's.
    - `ForwardAgent=no`, `ForwardX11=no`, `ClearAllForwardings=yes`: agentd
      needs no forwarding; the operator's agent must not be lent to the host.
    - `LogLevel=INFO`: failure() reads ssh's stderr, so an ssh_config's
      `LogLevel QUIET` must not hide why ssh gave up (the keep-alive timeout
      is said at INFO), nor DEBUG flood it.
    - `IdentitiesOnly=yes` with an identity file: offer that key only (not
      every key of an agent first, which can exhaust the server's tries, or
      log in with a key that is not restricted to agentd).
    - `--` before the destination: a destination is never read as an option.

    ssh sends the remote command as one string, its words joined by spaces,
    which the remote user's shell parses again; each word is therefore
    quoted with shlex.quote so that it arrives as the one word it was here.
    (With apsis's key restricted by `command="..."` in authorized_keys, the
    server runs that command instead, whatever is asked.)
    """
    argv = ["ssh", "-T", "-e", "none"]
    options = {
        "BatchMode": "yes",
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": str(target.known_hosts),
        "GlobalKnownHostsFile": "/dev/null",
        "UpdateHostKeys": "no",
        "ConnectTimeout": str(target.connect_timeout),
        "ServerAliveInterval": str(target.alive_interval),
        "ServerAliveCountMax": str(target.alive_count),
        "ControlPath": "none",
        "ForwardAgent": "no",
        "ForwardX11": "no",
        "ClearAllForwardings": "yes",
        "LogLevel": "INFO",
    }
    if target.identity_file is not None:
        options["IdentitiesOnly"] = "yes"
        argv += ["-i", str(target.identity_file)]
    if target.port is not None:
        argv += ["-p", str(target.port)]
    for key, value in options.items():
        argv += ["-o", f"{key}={value}"]
    return [*argv, "--", target.destination, *(shlex.quote(word) for word in target.command)]


class SshError(HostError):
    """ssh could not run agentd on a host; `host` is apsis's name for it, `detail` ssh's own last words."""

    def __init__(self, host: str, message: str, detail: str) -> None:
        super().__init__(f"host {host}: {message}" + (f" (ssh said: {detail})" if detail else ""))
        self.host = host
        self.detail = detail


class HostKeyChanged(SshError):
    """The host offered a key other than the one apsis's known_hosts holds for it: refused."""


class HostKeyUnknown(SshError):
    """apsis's known_hosts holds no key for this host: refused until the operator adds one."""


class AuthenticationRefused(SshError):
    """The host's sshd did not accept apsis's key for that user."""


class HostUnreachable(SshError):
    """No SSH connection: no route, refused, timed out, or a live one lost (no keep-alive answered)."""


class SshFailed(SshError):
    """ssh failed in a way none of the others names; ssh's own words say how."""


class RemoteCommandExited(SshError):
    """ssh connected, and the remote command (agentd) itself exited with a status of its own."""


_CHANGED = re.compile(r"Host key for (\S+) has changed|REMOTE HOST IDENTIFICATION HAS CHANGED")
_OFFERED = re.compile(r"key sent by the remote host is\s+(SHA256:\S+?)\.?\s*$", re.MULTILINE)
_UNKNOWN = re.compile(r"No \S+ host key is known for (\S+)|Host key verification failed")
_AUTH = re.compile(r"Permission denied \(|Too many authentication failures|no mutual signature")
_UNREACHABLE = (
    (re.compile(r"Timeout, server \S+ not responding"),
     "the connection was lost: the host answered none of ssh's keep-alives"),
    (re.compile(r"[Tt]imed out|Connection timed out"), "the connection timed out"),
    (re.compile(r"No route to host|Network is unreachable"), "no route to the host"),
    (re.compile(r"Connection refused"), "the connection was refused (no sshd listening on that port?)"),
    (re.compile(r"Could not resolve hostname|Name or service not known|Temporary failure in name resolution"),
     "its name does not resolve"),
    (re.compile(r"Connection (closed|reset) by|Broken pipe|kex_exchange_identification"),
     "the connection was closed by the other side"),
)


def failure(host: str, target: SshTarget, returncode: int, stderr: str) -> SshError:
    """The typed error for an ssh to `target` (apsis's host `host`) that exited `returncode` with `stderr`.

    Host-key refusals are looked for first: ssh prints them before anything
    else and exits at once, and the advice differs (never "retry").
    """
    detail = _last_words(stderr)
    if returncode != SSH_FAILED:
        hint = " (is agentd installed on the host, on the SSH user's PATH?)" if returncode == 127 else ""
        return RemoteCommandExited(host, f"{' '.join(target.command)} exited with status {returncode}{hint}", detail)
    known = shlex.quote(str(target.known_hosts))
    if changed := _CHANGED.search(stderr):
        name = _named(changed, stderr, target)
        offered = _OFFERED.search(stderr)
        return HostKeyChanged(
            host,
            f"the SSH host key of {name} has changed since apsis's known_hosts recorded it"
            + (f" (it now offers {offered.group(1)})" if offered else "")
            + ", and apsis refuses "
            f"a changed host key (it can be another machine in the middle). Check the host's key on the host "
            f"itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub); only if the change is expected, "
            f"remove the old key with `ssh-keygen -R {shlex.quote(name)} -f {known}` and add the new one "
            f"({_keyscan(target)} >> {known}, after comparing its fingerprint)",
            detail,
        )
    if unknown := _UNKNOWN.search(stderr):
        name = _named(unknown, stderr, target)
        return HostKeyUnknown(
            host,
            f"apsis's known_hosts ({target.known_hosts}) holds no key for {name}, and apsis connects only to "
            f"hosts whose key it already knows. Add it: {_keyscan(target)} >> {known}, after comparing the "
            f"fingerprint with the one on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)",
            detail,
        )
    if _AUTH.search(stderr):
        return AuthenticationRefused(
            host,
            f"{target.destination} refused apsis's key. Put apsis's public key"
            + (f" ({target.identity_file}.pub)" if target.identity_file else "")
            + " in that user's ~/.ssh/authorized_keys on the host, restricted to agentd (docs/hosts.md)",
            detail,
        )
    for pattern, why in _UNREACHABLE:
        if pattern.search(stderr):
            return HostUnreachable(host, f"{target.destination} is unreachable: {why}", detail)
    return SshFailed(host, f"ssh to {target.destination} failed", detail)


def explainer(host: str, target: SshTarget) -> Callable[[int | None, str], str | None]:
    """RemoteHost's `explain` for links made by ssh_argv(target): failure()'s words when ssh itself failed and
    failure() can name how (a changed host key, with what to do), None otherwise (RemoteHost keeps its own)."""
    def explain(status: int | None, stderr: str) -> str | None:
        if status != SSH_FAILED:
            return None
        error = failure(host, target, status, stderr)
        return None if isinstance(error, SshFailed) else str(error)

    return explain


def _named(match: re.Match[str], stderr: str, target: SshTarget) -> str:
    """The host name ssh looked up in known_hosts (it says, e.g. `[10.0.0.2]:2222`), else the target's."""
    if match.group(1):
        return match.group(1).rstrip(".")
    for pattern in (_CHANGED, _UNKNOWN):
        for other in pattern.finditer(stderr):
            if other.group(1):
                return other.group(1).rstrip(".")
    return target.known_hosts_name


def _keyscan(target: SshTarget) -> str:
    port = f"-p {target.port} " if target.port is not None else ""
    return f"ssh-keyscan {port}-t ed25519 {shlex.quote(target.host_name)}"


def _last_words(stderr: str) -> str:
    """ssh's last non-blank stderr line without its banner of `@`s: what it said when it gave up."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip().strip("@").strip()]
    return lines[-1] if lines else ""
