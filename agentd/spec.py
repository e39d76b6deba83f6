"""RunSpec: everything a host needs to run one run, checked before anything starts.

The spec is the host's whole input. It is checked here, purely, so that a bad
spec is refused with the field it is about and never becomes a half-started
unit; the checks that need the host itself (does this user exist there, is
the program there) are the host's, through the same SpecError.
"""
from __future__ import annotations

import enum
import re
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from agentd.errors import SpecError
from agentd.types import JobId, RunId

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# A credential's name is a file name in $CREDENTIALS_DIRECTORY: systemd takes more, we take what reads plainly.
CREDENTIAL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}\Z", re.ASCII)
CREDENTIAL_NAME_WANTED = "is not a credential name; use letters, digits, _, - and ., not starting with . or -"
DEFAULT_STOP_SIGNAL = "TERM"
DEFAULT_GRACE_PERIOD = 30.0
NICE_RANGE = range(-20, 20)
# Bounds that keep every value a finite systemd µs or count (D-Bus "t": < 2**64).
MAX_SECONDS = 10 * 365 * 86400.0
MAX_COUNT = 2**63
MAX_CPU_PERCENT = 100_000.0


def parse_signal(value: str | int, field_name: str = "signal") -> signal.Signals:
    """A signal from 'TERM', 'SIGTERM', 'term' or 15; SpecError naming the field otherwise."""
    if isinstance(value, bool):
        raise SpecError(field_name, f"{value!r} is not a signal")
    if isinstance(value, int):
        try:
            return signal.Signals(value)
        except ValueError:
            raise SpecError(field_name, f"{value} is not a signal number on this system") from None
    name = str(value).strip().upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return signal.Signals[name]
    except KeyError:
        raise SpecError(field_name, f"unknown signal {value!r}; use a name such as TERM, INT, KILL") from None


def credential_path_problem(path: object) -> str | None:
    """What is wrong with the file of a credential (None: nothing), as systemd would refuse it: an absolute,
    normalized path (no //, /./, /../ and no trailing /), on one line."""
    if not isinstance(path, str) or not path.startswith("/"):
        return f"must be an absolute path (starting with /), not {path!r}"
    if any(char in path for char in "\0\n") or any(part in ("", ".", "..") for part in path[1:].split("/")):
        return f"must be a plain absolute path to a file (no //, . or .. and no trailing /), not {path!r}"
    return None


class Stream(enum.StrEnum):
    """One of a run's output streams, told apart only in the output of a spec with `split_output`."""

    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """One run to start: the program, who runs it, and its limits.

    Exactly one of `argv` (executed as is) and `shell` (a command for
    /bin/sh -c, passed as one argument, never pasted together with others).
    Durations are seconds; `memory_max` bytes; `cpu_quota` percent of one CPU.
    `split_output`: the host keeps stdout and stderr apart, so that output()
    can give either; without it they are one stream, in the order written.
    `credentials` (name -> file) are systemd's LoadCredential=,
    `encrypted_credentials` its LoadCredentialEncrypted= (a file made by
    `systemd-creds encrypt`): systemd reads each file as root when the unit
    starts and gives the program a copy only it can read, at
    $CREDENTIALS_DIRECTORY/NAME; unlike env, nothing of it is in the unit's
    properties but the path.
    """

    run_id: RunId
    job_id: JobId | None = None
    argv: tuple[str, ...] | None = None
    shell: str | None = None
    user: str | None = None
    group: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    cwd: str | None = None
    timeout: float | None = None
    stop_signal: str | int = DEFAULT_STOP_SIGNAL
    grace_period: float = DEFAULT_GRACE_PERIOD
    memory_max: int | None = None
    cpu_quota: float | None = None
    tasks_max: int | None = None
    nice: int | None = None
    split_output: bool = False
    credentials: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    encrypted_credentials: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def command(self) -> tuple[str, ...]:
        """The argv the unit executes."""
        if self.shell is not None:
            return ("/bin/sh", "-c", self.shell)
        assert self.argv is not None
        return tuple(self.argv)


def check(spec: RunSpec) -> None:
    """Raise SpecError for the first thing wrong with the spec; return if it is sound."""
    if not isinstance(spec.run_id, str) or not spec.run_id or len(spec.run_id) > 200:
        raise SpecError("run_id", "must be a non-empty string of at most 200 characters")
    if "\0" in spec.run_id or "\n" in spec.run_id:
        raise SpecError("run_id", "must not contain NUL or newline characters")
    _check_program(spec)
    for name in ("user", "group"):
        value = getattr(spec, name)
        if value is not None and (not isinstance(value, str) or not value or "\0" in value):
            raise SpecError(name, "must be a user or group name, or a numeric id")
    for key, value in spec.env.items():
        if not isinstance(key, str) or not ENV_NAME.match(key):
            raise SpecError(f"env.{key}", "is not a valid environment variable name (letters, digits, _)")
        if not isinstance(value, str) or "\0" in value:
            raise SpecError(f"env.{key}", "value must be a string without NUL characters")
    _check_credentials(spec)
    if spec.cwd is not None and (not isinstance(spec.cwd, str) or not spec.cwd.startswith("/")):
        raise SpecError("cwd", f"must be an absolute path, not {spec.cwd!r}")
    _check_number(spec.timeout, "timeout", minimum=0, maximum=MAX_SECONDS, inclusive=False)
    if spec.grace_period is None:
        raise SpecError("stop.grace_period", "must be a number of seconds")
    _check_number(spec.grace_period, "stop.grace_period", minimum=0, maximum=MAX_SECONDS)
    parse_signal(spec.stop_signal, "stop.signal")
    _check_number(spec.memory_max, "limits.memory", minimum=1, maximum=MAX_COUNT, integer=True)
    _check_number(spec.cpu_quota, "limits.cpu", minimum=0, maximum=MAX_CPU_PERCENT, inclusive=False)
    _check_number(spec.tasks_max, "limits.tasks", minimum=1, maximum=MAX_COUNT, integer=True)
    if not isinstance(spec.split_output, bool):
        raise SpecError("output.split", f"must be true or false, not {spec.split_output!r}")
    if spec.nice is not None:
        if isinstance(spec.nice, bool) or not isinstance(spec.nice, int) or spec.nice not in NICE_RANGE:
            raise SpecError("limits.nice", f"must be an integer from -20 to 19, not {spec.nice!r}")


def _check_credentials(spec: RunSpec) -> None:
    for field_name, credentials in (("credentials", spec.credentials),
                                    ("encrypted_credentials", spec.encrypted_credentials)):
        for name, path in credentials.items():
            if not isinstance(name, str) or not CREDENTIAL_NAME.match(name):
                raise SpecError(f"{field_name}.{name}", CREDENTIAL_NAME_WANTED)
            problem = credential_path_problem(path)
            if problem is not None:
                raise SpecError(f"{field_name}.{name}", problem)
    both = sorted(spec.credentials.keys() & spec.encrypted_credentials.keys())
    if both:
        raise SpecError(f"encrypted_credentials.{both[0]}", "is also in credentials; give each name once")


def _check_program(spec: RunSpec) -> None:
    if (spec.argv is None) == (spec.shell is None):
        raise SpecError("program", "give exactly one of argv (a list) and shell (a command string)")
    if spec.shell is not None:
        if not isinstance(spec.shell, str) or not spec.shell.strip():
            raise SpecError("shell", "must be a non-empty command string")
        if "\0" in spec.shell:
            raise SpecError("shell", "must not contain NUL characters")
        return
    if isinstance(spec.argv, str) or not spec.argv:
        raise SpecError("argv", "must be a non-empty list of strings (the program and its arguments)")
    for i, arg in enumerate(spec.argv):
        if not isinstance(arg, str) or "\0" in arg:
            raise SpecError(f"argv[{i}]", "must be a string without NUL characters")
    if not spec.argv[0]:
        raise SpecError("argv[0]", "the program must not be empty")


def _check_number(
    value: float | None, name: str, *, minimum: float, maximum: float, inclusive: bool = True,
    integer: bool = False,
) -> None:
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value != value:
        raise SpecError(name, f"must be {'an integer' if integer else 'a number'}, not {value!r}")
    if value < minimum or (not inclusive and value == minimum):
        relation = "at least" if inclusive else "more than"
        raise SpecError(name, f"must be {relation} {minimum}, not {value!r}")
    if value > maximum:
        raise SpecError(name, f"must be at most {maximum:g}, not {value!r}")
