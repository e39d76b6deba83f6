"""ssh_argv() and failure(): the ssh command line apsis runs, and what a failed ssh means. Pure."""
from __future__ import annotations

import itertools
import shlex
import subprocess
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import Any

import pytest

from agentd.errors import HostError
from agentd.remote.ssh import (
    AuthenticationRefused,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
    RemoteCommandExited,
    SshError,
    SshFailed,
    SshTarget,
    explainer,
    failure,
    ssh_argv,
)

KNOWN = Path("/var/lib/apsis/known_hosts")
TARGET = SshTarget(destination="root@db1.example", known_hosts=KNOWN)


def target(**changes: Any) -> SshTarget:
    return replace(TARGET, **changes)


def options(argv: list[str]) -> dict[str, str]:
    """The -o KEY=VALUE pairs of an argv (first one wins, as in ssh)."""
    found: dict[str, str] = {}
    for flag, value in itertools.pairwise(argv):
        if flag == "-o":
            key, _, val = value.partition("=")
            found.setdefault(key, val)
    return found


def test_defaults_run_agentd_over_stdio_with_every_safety_option() -> None:
    argv = ssh_argv(TARGET)
    assert argv[0] == "ssh"
    assert "-T" in argv
    assert argv[argv.index("-e") + 1] == "none"
    assert options(argv) == {
        "BatchMode": "yes",
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": str(KNOWN),
        "GlobalKnownHostsFile": "/dev/null",
        "UpdateHostKeys": "no",
        "ConnectTimeout": "10",
        "ServerAliveInterval": "5",
        "ServerAliveCountMax": "3",
        "ControlPath": "none",
        "ForwardAgent": "no",
        "ForwardX11": "no",
        "ClearAllForwardings": "yes",
        "LogLevel": "INFO",
    }
    assert argv[-5:] == ["--", "root@db1.example", "agentd", "serve", "--stdio"]
    assert "-p" not in argv and "-i" not in argv


def test_port_identity_timeouts_and_command_are_passed_as_separate_words() -> None:
    argv = ssh_argv(target(port=2222, identity_file=Path("/etc/apsis/id ed25519"), connect_timeout=4,
                           alive_interval=2, alive_count=7, command=("/opt/agentd", "serve")))
    assert argv[argv.index("-p") + 1] == "2222"
    assert argv[argv.index("-i") + 1] == "/etc/apsis/id ed25519"
    opts = options(argv)
    assert (opts["ConnectTimeout"], opts["ServerAliveInterval"], opts["ServerAliveCountMax"]) == ("4", "2", "7")
    assert opts["IdentitiesOnly"] == "yes"
    assert argv[-4:] == ["--", "root@db1.example", "/opt/agentd", "serve"]


def test_every_option_comes_before_the_double_dash_and_destination() -> None:
    argv = ssh_argv(target(port=22, identity_file=Path("/k")))
    dash = argv.index("--")
    assert argv[dash + 1] == "root@db1.example"
    assert all(word != "-o" for word in argv[dash:])


def test_strict_host_key_checking_is_never_relaxed() -> None:
    for t in (TARGET, target(port=1), target(identity_file=Path("/k")), target(command=("x",))):
        argv = ssh_argv(t)
        assert [v for k, v in itertools.pairwise(argv) if k == "-o" and v.startswith("StrictHost")] == [
            "StrictHostKeyChecking=yes"]
        assert not any("accept-new" in w or "StrictHostKeyChecking=no" in w for w in argv)


@pytest.mark.parametrize("words", [
    ("agentd", "serve", "--stdio"),
    ("/opt/apsis bin/agentd", "serve"),
    ("agentd", "; rm -rf /", "$(id)", "`id`", "a'b", 'a"b', "*", "", "x\ny", "$HOME", "|&<>"),
])
def test_remote_words_reach_the_remote_shell_as_the_same_words(words: tuple[str, ...]) -> None:
    """ssh joins the remote words with spaces for the remote shell: quoted, each arrives as it was."""
    remote = ssh_argv(target(command=words))[-len(words):]
    joined = " ".join(remote)  # what ssh sends
    out = subprocess.run(["sh", "-c", 'eval "set -- $1"; for w in "$@"; do printf "%s\\0" "$w"; done', "sh",
                          joined], capture_output=True, text=True, check=True).stdout
    assert out.split("\0")[:-1] == list(words)
    assert shlex.split(joined) == list(words)


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"destination": ""}, "destination"),
    ({"destination": "-oProxyCommand=sh"}, "destination"),
    ({"destination": "root@db1 x"}, "destination"),
    ({"destination": "root@db1\n"}, "destination"),
    ({"port": 0}, "port"),
    ({"port": 65536}, "port"),
    ({"connect_timeout": 0}, "connect_timeout"),
    ({"alive_interval": 0}, "alive_interval"),
    ({"alive_count": 0}, "alive_count"),
    ({"command": ()}, "command"),
])
def test_a_target_refuses_values_the_argv_could_not_carry(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        target(**changes)


def test_a_target_is_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        TARGET.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(("t", "host", "known"), [
    (TARGET, "db1.example", "db1.example"),
    (target(destination="db1"), "db1", "db1"),
    (target(destination="a@b@db1", port=22), "db1", "db1"),
    (target(port=2222), "db1.example", "[db1.example]:2222"),
])
def test_host_name_and_its_known_hosts_spelling(t: SshTarget, host: str, known: str) -> None:
    assert (t.host_name, t.known_hosts_name) == (host, known)


# What OpenSSH 9.2 prints, taken from real runs (tests/integration/test_ssh_transport.py sees them live).
CHANGED = """\
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:P1RQ4xur7GZR3o4gmVJHCErzzSTpF0cZ4CNi8uYgDRU.
Please contact your system administrator.
Add correct host key in /var/lib/apsis/known_hosts to get rid of this message.
Offending ED25519 key in /var/lib/apsis/known_hosts:1
  remove with:
  ssh-keygen -f "/var/lib/apsis/known_hosts" -R "[db1.example]:2222"
Host key for [db1.example]:2222 has changed and you have requested strict checking.
Host key verification failed.
"""
UNKNOWN = """\
No ED25519 host key is known for [db1.example]:2222 and you have requested strict checking.
Host key verification failed.
"""


def test_a_changed_host_key_names_the_host_refuses_and_says_what_to_do() -> None:
    err = failure("db1", target(port=2222), 255, CHANGED)
    assert type(err) is HostKeyChanged
    text = str(err)
    assert text.startswith("host db1: the SSH host key of [db1.example]:2222 has changed")
    assert "SHA256:P1RQ4xur7GZR3o4gmVJHCErzzSTpF0cZ4CNi8uYgDRU" in text
    assert "apsis refuses a changed host key" in text
    assert "Check the host's key on the host itself" in text
    assert "ssh-keygen -R '[db1.example]:2222' -f /var/lib/apsis/known_hosts" in text
    assert "ssh-keyscan -p 2222 -t ed25519 db1.example >> /var/lib/apsis/known_hosts" in text
    assert err.host == "db1"
    assert err.detail == "Host key verification failed."


def test_a_changed_host_key_without_sshs_host_line_falls_back_to_the_target() -> None:
    stderr = "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n"
    err = failure("db1", TARGET, 255, stderr)
    assert type(err) is HostKeyChanged
    assert "host key of db1.example has changed" in str(err)
    assert "ssh-keygen -R db1.example -f /var/lib/apsis/known_hosts" in str(err)
    assert "now offers" not in str(err)


def test_an_unknown_host_key_says_to_add_it_to_apsiss_file() -> None:
    err = failure("db1", target(port=2222), 255, UNKNOWN)
    assert type(err) is HostKeyUnknown
    assert "apsis's known_hosts (/var/lib/apsis/known_hosts) holds no key for [db1.example]:2222" in str(err)
    assert "ssh-keyscan -p 2222 -t ed25519 db1.example >> /var/lib/apsis/known_hosts" in str(err)
    bare = failure("db1", TARGET, 255, "Host key verification failed.\n")
    assert type(bare) is HostKeyUnknown and "holds no key for db1.example" in str(bare)


@pytest.mark.parametrize("stderr", [
    "root@db1.example: Permission denied (publickey,password,keyboard-interactive).\n",
    "Received disconnect from 10.0.0.2 port 22:2: Too many authentication failures\n",
    "sign_and_send_pubkey: no mutual signature supported\nroot@db1: Permission denied (publickey).\n",
])
def test_authentication_refused(stderr: str) -> None:
    err = failure("db1", target(identity_file=Path("/etc/apsis/id_ed25519")), 255, stderr)
    assert type(err) is AuthenticationRefused
    assert "root@db1.example refused apsis's key" in str(err)
    assert "/etc/apsis/id_ed25519.pub" in str(err)
    assert "authorized_keys" in str(err)


@pytest.mark.parametrize(("stderr", "why"), [
    ("ssh: connect to host db1.example port 22: Connection timed out\n", "timed out"),
    ("Connection timed out during banner exchange\nConnection to 10.0.0.2 port 22 timed out\n", "timed out"),
    ("ssh: connect to host 10.9.9.9 port 22: No route to host\n", "no route"),
    ("ssh: connect to host 10.9.9.9 port 2222: Network is unreachable\n", "no route"),
    ("ssh: connect to host 127.0.0.1 port 2223: Connection refused\n", "refused"),
    ("ssh: Could not resolve hostname db1.invalid: Temporary failure in name resolution\n", "does not resolve"),
    ("ssh: Could not resolve hostname db1.invalid: Name or service not known\n", "does not resolve"),
    ("Timeout, server 10.0.0.2 not responding.\n", "keep-alives"),
    ("Connection closed by 10.0.0.2 port 22\n", "closed"),
    ("Connection reset by 10.0.0.2 port 22\n", "closed"),
    ("kex_exchange_identification: read: Connection reset by peer\n", "closed"),
    ("client_loop: send disconnect: Broken pipe\n", "closed"),
])
def test_unreachable_says_why(stderr: str, why: str) -> None:
    err = failure("db1", TARGET, 255, stderr)
    assert type(err) is HostUnreachable
    assert str(err).startswith("host db1: root@db1.example is unreachable: ")
    assert why in str(err).split("(ssh said")[0]


@pytest.mark.parametrize("stderr", ["", "\n\n", "Bad configuration option: foo\n", "something new\n"])
def test_anything_else_is_ssh_failed_with_its_last_words(stderr: str) -> None:
    err = failure("db1", TARGET, 255, stderr)
    assert type(err) is SshFailed
    assert str(err).startswith("host db1: ssh to root@db1.example failed")
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    assert err.detail == last
    assert ("(ssh said: " in str(err)) == bool(last)


@pytest.mark.parametrize(("code", "hint"), [(1, False), (2, False), (127, True), (0, False)])
def test_a_status_other_than_255_is_the_remote_commands_own(code: int, hint: bool) -> None:
    err = failure("db1", TARGET, code, "Permission denied (publickey)\n")  # stderr of the command, not ssh's
    assert type(err) is RemoteCommandExited
    assert f"agentd serve --stdio exited with status {code}" in str(err)
    assert ("is agentd installed" in str(err)) == hint


def test_host_key_refusals_win_over_anything_else_in_the_same_stderr() -> None:
    assert type(failure("db1", TARGET, 255, CHANGED + "Connection closed by x\n")) is HostKeyChanged
    assert type(failure("db1", TARGET, 255, "Connection timed out\n" + UNKNOWN)) is HostKeyUnknown


@pytest.mark.parametrize("cls", [HostKeyChanged, HostKeyUnknown, AuthenticationRefused, HostUnreachable,
                                 SshFailed, RemoteCommandExited])
def test_every_failure_is_a_host_error(cls: type[SshError]) -> None:
    assert issubclass(cls, SshError) and issubclass(cls, HostError)


def test_the_explainer_gives_failures_own_words_when_ssh_itself_failed_and_can_name_how() -> None:
    explain = explainer("db1", target(port=2222))
    assert explain(255, CHANGED) == str(failure("db1", target(port=2222), 255, CHANGED))
    assert explain(255, UNKNOWN) is not None and "holds no key" in explain(255, UNKNOWN)  # type: ignore[operator]
    assert explain(255, "something ssh never said\n") is None  # SshFailed: RemoteHost's own words are as good
    assert explain(0, CHANGED) is None  # agentd's own status: not ssh's failure
    assert explain(None, CHANGED) is None  # killed, or still running: no status of ssh's to read
