"""Unit names, object paths, and a run spec turned into StartTransientUnit properties.

Names that reach systemd are built here and only here, escaped the way
systemd escapes them, so no text of a user's ever becomes a unit name as is.
"""
from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from dbus_fast import Variant

from agentd.spec import RunSpec, Stream, parse_signal
from agentd.systemd.streams import PERL, drain_command, drain_within
from agentd.types import RunId

UNIT_PREFIX = "apsis-"
UNIT_SUFFIX = ".service"
SLICE = "apsis.slice"
UNIT_PATTERN = f"{UNIT_PREFIX}*{UNIT_SUFFIX}"
SD_PATH = "/org/freedesktop/systemd1"
UNIT_PATH_PREFIX = SD_PATH + "/unit/"

_UNIT_SAFE = frozenset(string.ascii_letters + string.digits + ":_.")
_USEC = 1_000_000
# journald's per-unit rate limit cannot be switched off with 0 in systemd 252
# (0 means "the default" there); an interval of 1 µs never fills its bucket.
_LOG_RATE_LIMIT_INTERVAL_USEC = 1
# A split run's program runs under systemd-cat, which gives its stdout and its stderr a journal stream each, told
# apart by PRIORITY (info and err); it exec()s the program, so the unit's main process is still the program.
SYSTEMD_CAT = "/usr/bin/systemd-cat"
STREAM_PRIORITY = {Stream.STDOUT: 6, Stream.STDERR: 3}


def splits_output(props: Mapping[str, Any]) -> bool:
    """Whether a unit's properties (D-Bus, ExecStart a(sasbttttuii)) are a split run's: its program under
    systemd-cat, as properties() makes it."""
    exec_start = props.get("ExecStart") or []
    return bool(exec_start) and exec_start[0][0] == SYSTEMD_CAT


def escape(text: str) -> str:
    """systemd's unit name escaping (systemd-escape): safe bytes kept, others as \\xNN."""
    out = []
    for i, byte in enumerate(text.encode()):
        char = chr(byte)
        if char == "/":
            out.append("-")
        elif char in _UNIT_SAFE and not (i == 0 and char == "."):
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def unescape(text: str) -> str:
    """The inverse of escape(); ValueError for text escape() cannot have made."""
    raw = bytearray()
    i = 0
    while i < len(text):
        if text.startswith("\\x", i):
            digits = text[i + 2 : i + 4]
            if len(digits) != 2:
                raise ValueError(f"truncated escape in {text!r}")
            raw.append(int(digits, 16))
            i += 4
        else:
            raw.extend(b"/" if text[i] == "-" else text[i].encode())
            i += 1
    return raw.decode(errors="replace")


def unit_name(run_id: RunId) -> str:
    """apsis-<run id>.service, the run id escaped."""
    return f"{UNIT_PREFIX}{escape(run_id)}{UNIT_SUFFIX}"


def timer_name(run_id: RunId) -> str:
    """apsis-<run id>.timer: the timer that starts a run armed ahead of its time."""
    return unit_name(run_id).removesuffix(UNIT_SUFFIX) + ".timer"


def timer_properties(run_id: RunId, since_startup_usec: int) -> list[list]:
    """A transient timer that starts the run's service when the manager's monotonic clock reaches the instant.

    `OnStartupSec` counts from the manager's own start (its
    UserspaceTimestampMonotonic), so it names an instant, not a wait: the
    time systemd takes to take the call in does not delay the start. An
    instant already past when systemd takes it in fires at once (systemd
    drops past one-shot triggers only on later activations), so a busy
    systemd starts the run late, never not at all.
    """
    return [
        ["Description", Variant("s", f"apsis run {run_id}, armed")],
        ["TimersMonotonic", Variant("a(st)", [["OnStartupSec", max(1, since_startup_usec)]])],
        ["AccuracyUSec", Variant("t", 1)],
        ["RemainAfterElapse", Variant("b", False)],
    ]


def run_id_of(unit: str) -> RunId | None:
    """The run id a unit name belongs to, or None for a unit that is not a run's."""
    if not (unit.startswith(UNIT_PREFIX) and unit.endswith(UNIT_SUFFIX)):
        return None
    try:
        return RunId(unescape(unit[len(UNIT_PREFIX) : -len(UNIT_SUFFIX)]))
    except ValueError:
        return None  # a unit of that shape that is no run's: we never make such names


def object_path(unit: str) -> str:
    """The unit's D-Bus object path (sd_bus_path_encode / bus_label_escape)."""
    out = []
    for i, byte in enumerate(unit.encode()):
        char = chr(byte)
        if char.isascii() and (char.isalpha() or (i > 0 and char.isdigit())):
            out.append(char)
        else:
            out.append(f"_{byte:02x}")
    return UNIT_PATH_PREFIX + ("".join(out) or "_")


def run_identifier(run_id: RunId) -> str:
    """The run's own syslog identifier: its unit name without `.service`."""
    return unit_name(run_id)[: -len(UNIT_SUFFIX)]


def properties(spec: RunSpec, executable: str, *, user_manager: bool, pin: bool = True) -> list[list]:
    """The a(sv) properties of the run's transient unit, in the order systemd applies them.

    `executable` is argv[0] already resolved to an absolute path by the host.
    """
    # Under a user manager the identifier is the run's own: journald drops
    # LogExtraFields there, and SYSLOG_IDENTIFIER (sent in the stream's header,
    # so on every line) with our uid is then what finds a run's output.
    # A split run's too: systemd-cat's streams, unlike those PID 1 opens, do not
    # name their unit, so journald knows it (and its LogExtraFields) only from
    # the cgroup of a writer still alive when it reads the line; the others are
    # found by the writer's pid and uid, with this identifier (trust.py).
    own = user_manager or spec.split_output
    identifier = run_identifier(spec.run_id) if own else spec.job_id or run_identifier(spec.run_id)
    argv = list(spec.command())
    if spec.split_output:
        # systemd-cat exec()s the program in the unit's cgroup; the program's argv[0] is its absolute path then.
        argv = [SYSTEMD_CAT, f"--identifier={identifier}", f"--priority={STREAM_PRIORITY[Stream.STDOUT]}",
                f"--stderr-priority={STREAM_PRIORITY[Stream.STDERR]}", "--level-prefix=false", "--",
                executable, *argv[1:]]
        executable = SYSTEMD_CAT
    extra_fields = [f"APSIS_RUN_ID={spec.run_id}".encode()]
    if spec.job_id:
        extra_fields.append(f"APSIS_JOB_ID={spec.job_id}".encode())
    props: list[list] = [
        ["Description", Variant("s", f"apsis run {spec.run_id}" + (f" of {spec.job_id}" if spec.job_id else ""))],
        ["Type", Variant("s", "exec")],
        # ExecStartEx with no-env-expand: systemd must not substitute $VAR in
        # argv; what the job gave is exactly what the program receives.
        ["ExecStartEx", Variant("a(sasas)", [[executable, argv, ["no-env-expand"]]])],
        # Pinned (AddRef), a unit stays loaded after it ends until we have read it (CPU time); each pin costs
        # systemd a bus match rule, of which the bus allows it 512 (see LocalHost.MAX_PINNED).
        ["AddRef", Variant("b", pin)],
        # Unpinned, a failed unit is unloaded like a successful one: its end is in the journal. Kept (the
        # default), one systemd re-read as bad-setting (ExecStartEx, above) could never be reset.
        ["CollectMode", Variant("s", "inactive-or-failed")],
        ["Slice", Variant("s", SLICE)],
        ["CPUAccounting", Variant("b", True)],
        ["MemoryAccounting", Variant("b", True)],
        ["TasksAccounting", Variant("b", True)],
        ["StandardOutput", Variant("s", "journal")],
        ["StandardError", Variant("s", "inherit")],
        ["SyslogIdentifier", Variant("s", identifier)],
        # A line that starts with <N> is output as written, not a priority for journald to take off.
        ["SyslogLevelPrefix", Variant("b", False)],
        ["LogExtraFields", Variant("aay", extra_fields)],
        ["LogRateLimitIntervalUSec", Variant("t", _LOG_RATE_LIMIT_INTERVAL_USEC)],
        ["KillMode", Variant("s", "control-group")],
        ["KillSignal", Variant("i", int(parse_signal(spec.stop_signal, "stop.signal")))],
        ["SendSIGKILL", Variant("b", True)],
        ["TimeoutStopUSec", Variant("t", round(spec.grace_period * _USEC))],
    ]
    if spec.timeout is not None:
        props.append(["RuntimeMaxUSec", Variant("t", round(spec.timeout * _USEC))])
    if not user_manager:
        # Hold the ended unit, loaded, until journald has read its output (streams.py); as root, which alone may
        # see journald's streams (PermissionsStartOnly: User= and Group= apply to ExecStart only). A user
        # manager's runs share user@.service's rate limit, loaded or not, and it cannot see them anyway.
        within = drain_within(spec.grace_period)
        if within > 0:
            props.append(["PermissionsStartOnly", Variant("b", True)])
            drain = drain_command(unit_name(spec.run_id), run_identifier(spec.run_id), within)
            props.append(["ExecStopPost", Variant("a(sasb)", [[PERL, drain, True]])])
        if spec.user is not None:
            props.append(["User", Variant("s", spec.user)])
        if spec.group is not None:
            props.append(["Group", Variant("s", spec.group)])
    if spec.env:
        props.append(["Environment", Variant("as", [f"{k}={v}" for k, v in spec.env.items()])])
    # A credential's file is read by systemd as root at the start; the unit's properties hold only its path.
    if spec.credentials:
        props.append(["LoadCredential", Variant("a(ss)", [[name, path] for name, path in spec.credentials.items()])])
    if spec.encrypted_credentials:
        props.append(["LoadCredentialEncrypted", Variant("a(ss)", [
            [name, path] for name, path in spec.encrypted_credentials.items()])])
    if spec.cwd is not None:
        props.append(["WorkingDirectory", Variant("s", spec.cwd)])
    if spec.memory_max is not None:
        props.append(["MemoryMax", Variant("t", spec.memory_max)])
    if spec.cpu_quota is not None:
        props.append(["CPUQuotaPerSecUSec", Variant("t", round(spec.cpu_quota * 10_000))])
    if spec.tasks_max is not None:
        props.append(["TasksMax", Variant("t", spec.tasks_max)])
    if spec.nice is not None:
        props.append(["Nice", Variant("i", spec.nice)])
    return props
