"""A job's `program`: what a run executes and under which systemd settings.

Three forms: a string (a shell command for /bin/sh -c), a list (an argv,
executed without a shell), or a mapping with `type` shell, exec or no-op and
the systemd-native fields. Templates in code a shell reads (the command, or
the script of an argv that runs `sh -c`) never put a value in the code:
see shell_templates. A typed field (a duration, a size, a path, a
signal...) whose text holds a `{{ template }}` cannot be checked before its
run's args are known: it is kept as a Template and checked by bind(), when
the run is bound. Its template itself is checked when the job is loaded.

`credentials` and `encrypted_credentials` (a credential's name -> the file
systemd reads for it) are how a secret reaches a program: env values are
unit properties that every local user reads with `systemctl show`. They
take no template: systemd reads the file as root, and no arg may choose it.
"""
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from signal import Signals
from types import MappingProxyType
from typing import Any, TypeVar

from agentd.errors import SpecError
from agentd.spec import (
    CREDENTIAL_NAME,
    CREDENTIAL_NAME_WANTED,
    DEFAULT_GRACE_PERIOD,
    DEFAULT_STOP_SIGNAL,
    ENV_NAME,
    MAX_COUNT,
    MAX_CPU_PERCENT,
    MAX_SECONDS,
    NICE_RANGE,
    credential_path_problem,
    parse_signal,
)
from apsisd.calendars.calendar import Calendar
from apsisd.errors import InvalidFields, invalid
from apsisd.fields import Fields, boolean, bounded, describe, remembered, string, string_map
from apsisd.jobs.code_arguments import shell_script
from apsisd.jobs.shell_templates import bind_shell, check_shell, code_argument_problems
from apsisd.jobs.templates import Template, has_template, render
from apsisd.quantities import parse_duration, parse_size

T = TypeVar("T")
EMPTY: Mapping[str, str] = MappingProxyType({})
DEFAULT_SIGNAL = parse_signal(DEFAULT_STOP_SIGNAL)


class Kind(enum.StrEnum):
    SHELL = "shell"  # `command`, run by /bin/sh -c
    EXEC = "exec"  # `argv`, executed as is
    NO_OP = "no-op"  # runs nothing: waits `duration`, then succeeds (or fails)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """How a run is stopped: this signal, then SIGKILL after the grace period (seconds)."""

    signal: Signals | Template = DEFAULT_SIGNAL
    grace_period: float | Template = DEFAULT_GRACE_PERIOD


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """systemd resource limits: bytes of memory, percent of one CPU, tasks, and the nice level."""

    memory: int | Template | None = None
    cpu: float | Template | None = None
    tasks: int | Template | None = None
    nice: int | Template | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Output:
    """What becomes of the run's output: `split` keeps stdout and stderr apart (else they are one stream)."""

    split: bool = False


DEFAULT_STOP = Stop()
NO_LIMITS = Limits()
DEFAULT_OUTPUT = Output()


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    """One job's program; strings may hold templates until bind() renders them."""

    kind: Kind
    command: str | None = None
    argv: tuple[str, ...] | None = None
    duration: float | Template = 0.0
    success: bool | Template = True
    user: str | None = None
    group: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    cwd: str | Template | None = None
    timeout: float | Template | None = None
    stop: Stop = DEFAULT_STOP
    limits: Limits = NO_LIMITS
    output: Output = DEFAULT_OUTPUT
    host: str | None = None
    credentials: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    encrypted_credentials: Mapping[str, str] = field(default_factory=lambda: EMPTY)


def parse_program(value: Any) -> Program:
    """The program from its job-file value; InvalidFields with every problem otherwise."""
    if isinstance(value, str):
        return Program(kind=Kind.SHELL, command=_shell_command(value))
    if isinstance(value, list):
        return Program(kind=Kind.EXEC, argv=_argv(value))
    if not isinstance(value, Mapping):
        raise invalid(f"must be a shell command (a string), an argv (a list) or a mapping with a type, not "
                      f"{describe(value)}")
    fields = Fields(value, "program")
    kind = fields.take("type", _kind, None)
    if kind is None:
        # Which keys are allowed depends on the type: report only the type.
        raise InvalidFields(fields.problems or [(("type",), f"is required; one of {_kinds()}")])
    if kind is Kind.NO_OP:
        parsed = Program(kind=kind, duration=fields.take("duration", _DEFERRED["duration"], 0.0),
                         success=fields.take("success", _DEFERRED["success"], True))
        fields.done()
        return parsed
    command = fields.take("command", _shell_command) if kind is Kind.SHELL else None
    argv = fields.take("argv", _argv) if kind is Kind.EXEC else None
    parsed = Program(
        kind=kind, command=command, argv=argv,
        user=fields.take("user", _account, None), group=fields.take("group", _account, None),
        env=fields.take("env", _ENV, EMPTY), cwd=fields.take("cwd", _DEFERRED["cwd"], None),
        timeout=fields.take("timeout", _DEFERRED["timeout"], None),
        stop=fields.take("stop", _STOP, DEFAULT_STOP), limits=fields.take("limits", _LIMITS, NO_LIMITS),
        output=fields.take("output", _OUTPUT, DEFAULT_OUTPUT), host=fields.take("host", _name, None),
        credentials=fields.take("credentials", _CREDENTIALS, EMPTY),
        encrypted_credentials=fields.take("encrypted_credentials", _CREDENTIALS, EMPTY),
    )
    fields.done()
    both = sorted(parsed.credentials.keys() & parsed.encrypted_credentials.keys())
    if both:
        raise InvalidFields([(("encrypted_credentials", name), "is also in credentials; give each name once")
                             for name in both])
    return parsed


def bind(program: Program, args: Mapping[str, str], calendars: Mapping[str, Calendar]) -> Program:
    """The program of one run: every template rendered with `args`, every deferred field checked.

    In code a shell reads, templates are references to environment variables
    (shell_templates), and the values go into the program's env: an arg (which
    an operator may type through the API) is always data, never code.

    InvalidFields (paths as in the job file, under `program`) if a template
    fails or a rendered value is not valid for its field.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    script = _script_path(program)
    variables: dict[str, str] = {}

    def fill(value: Any, path: tuple[str | int, ...]) -> Any:
        try:
            if isinstance(value, Template):
                return value.parse(render(value.text, args, calendars))
            if isinstance(value, str) and path == script:
                code, values = bind_shell(value, args, calendars)
                variables.update(values)
                return code
            if isinstance(value, str):
                return render(value, args, calendars)
        except InvalidFields as exc:
            problems.extend(exc.under(*path).problems)
            return value
        if isinstance(value, tuple):
            return tuple(fill(item, (*path, index)) for index, item in enumerate(value))
        if isinstance(value, Mapping):
            return MappingProxyType({key: fill(item, (*path, key)) for key, item in value.items()})
        if isinstance(value, Stop | Limits):
            return fill_fields(value, path)
        return value

    def fill_fields(value: Any, path: tuple[str | int, ...]) -> Any:
        changes = {item.name: fill(getattr(value, item.name), (*path, item.name))
                   for item in dataclasses.fields(value) if item.name != "kind"}
        return dataclasses.replace(value, **changes)

    bound = fill_fields(program, ("program",))
    if problems:
        raise InvalidFields(problems)
    return dataclasses.replace(bound, env=MappingProxyType({**bound.env, **variables})) if variables else bound


def _script_path(program: Program) -> tuple[str | int, ...] | None:
    """The path of the field a shell reads as code: the command, the script of an argv running sh -c, or None."""
    if program.kind is Kind.SHELL:
        return ("program", "command")
    if program.kind is Kind.EXEC and program.argv is not None:
        index = shell_script(program.argv)[0]
        return None if index is None else ("program", "argv", index)
    return None


def deferred(parse: Callable[[Any], T]) -> Callable[[Any], T | Template]:
    """`parse`, unless the value is text holding a template: then a Template that bind() parses."""

    def parse_or_defer(value: Any) -> T | Template:
        if isinstance(value, str) and has_template(value):
            return Template(text=value, parse=parse)
        return parse(value)

    return parse_or_defer


def _kind(value: Any) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        raise invalid(f"unknown program type {describe(value)}; one of {_kinds()}") from None


def _kinds() -> str:
    return "shell (with command:), exec (with argv:), no-op"


def _command(value: Any) -> str:
    text = string(value)
    if not text.strip() or "\0" in text:
        raise invalid("must be a non-empty shell command (without NUL characters)")
    return text


def _shell_command(value: Any) -> str:
    """A shell command whose templates can all be handed to the shell as data (else refused, with the fix)."""
    text = _command(value)
    check_shell(text)
    return text


def _argv(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise invalid(f"must be a non-empty list: the program, then its arguments, not {describe(value)}; "
                      "for a shell command use type: shell with command:")
    problems: list[tuple[tuple[str | int, ...], str]] = []
    argv = []
    for index, item in enumerate(value):
        try:
            argv.append(string(item))
        except InvalidFields as exc:
            problems.extend(exc.under(index).problems)
    if argv and not argv[0].strip():
        problems.append(((0,), "the program must not be empty"))
    if problems:
        raise InvalidFields(problems)
    refusals = code_argument_problems(tuple(argv))
    if refusals:
        raise InvalidFields([((index,), message) for index, message in refusals])
    script = shell_script(tuple(argv))[0]
    if script is not None:
        try:
            check_shell(argv[script])
        except InvalidFields as exc:
            raise exc.under(script) from None
    return tuple(argv)


def _success(value: Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return boolean(value)


def _name(value: Any) -> str:
    text = bounded(string(value), "a user, group or host name").strip()
    if not text or "\0" in text:
        raise invalid("must be a non-empty name")
    return text


def _account(value: Any) -> str:
    """A user or group, fixed by the file: a template would let whoever gives the args choose it (docs/api.md,
    Rights: an operator may give args, only an admin may choose whom a program runs as)."""
    text = _name(value)
    if has_template(text):
        raise invalid("must be a name or a numeric id, not a template: an arg would choose whom the program runs "
                      "as, and args are an operator's to give; write one job per user")
    return text


def _env(value: Any) -> Mapping[str, str]:
    env = string_map(value)
    problems: list[tuple[tuple[str | int, ...], str]] = [
        ((name,), "is not an environment variable name; use letters, digits and _, not starting with a digit")
        for name in env if not ENV_NAME.match(name)]
    if problems:
        raise InvalidFields(problems)
    return MappingProxyType(env)


def _credentials(value: Any) -> Mapping[str, str]:
    files = string_map(value)
    problems: list[tuple[tuple[str | int, ...], str]] = [
        ((name,), CREDENTIAL_NAME_WANTED) for name in files if not CREDENTIAL_NAME.match(name)]
    for name, path in files.items():
        problem = "takes no template: systemd reads the file as root, and no arg may choose which" if (
            has_template(path)) else credential_path_problem(path)
        if problem is not None:
            problems.append(((name,), problem))
    if problems:
        raise InvalidFields(problems)
    return MappingProxyType(files)


def _cwd(value: Any) -> str:
    text = string(value)
    if not text.startswith("/"):
        raise invalid(f"must be an absolute path (starting with /), not {text!r}")
    return text


def _timeout(value: Any) -> float:
    seconds = parse_duration(value)
    if not 0 < seconds <= MAX_SECONDS:
        raise invalid(f"must be more than 0 and at most {MAX_SECONDS:g} seconds, not {seconds:g}")
    return seconds


def _grace_period(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds > MAX_SECONDS:
        raise invalid(f"must be at most {MAX_SECONDS:g} seconds, not {seconds:g}")
    return seconds


def _signal(value: Any) -> Signals:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise invalid(f"must be a signal name such as TERM or a number, not {describe(value)}")
    try:
        number = _whole(value)
        return parse_signal(value if number is None else number)
    except SpecError as exc:
        raise invalid(exc.problem) from None


def _stop(value: Any) -> Stop:
    fields = Fields(value, "stop")
    stop = Stop(signal=fields.take("signal", _DEFERRED["signal"], DEFAULT_SIGNAL),
                grace_period=fields.take("grace_period", _DEFERRED["grace_period"], DEFAULT_GRACE_PERIOD))
    fields.done()
    return stop


def _memory(value: Any) -> int:
    size = parse_size(value)
    if not 0 < size < MAX_COUNT:
        raise invalid(f"must be more than 0 bytes, e.g. 512M or 2G, not {value!r}")
    return size


def _cpu(value: Any) -> float:
    """Percent of one CPU: 50 is half a CPU, 150 one and a half; '150%' likewise."""
    text = value.strip().removesuffix("%") if isinstance(value, str) else value
    try:
        percent = float(text) if not isinstance(text, bool) else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int of 400 digits
        percent = None
    if percent is None or not 0 < percent <= MAX_CPU_PERCENT:
        raise invalid(f"must be a percentage of one CPU from above 0 to {MAX_CPU_PERCENT:g}, such as 50 or "
                      f"'150%', not {describe(value)}")
    return percent


def _tasks(value: Any) -> int:
    count = _whole(value)
    if count is None or not 0 < count < MAX_COUNT:
        raise invalid(f"must be a whole number of tasks, at least 1, not {describe(value)}")
    return count


def _nice(value: Any) -> int:
    level = _whole(value)
    if level is None or level not in NICE_RANGE:
        raise invalid(f"must be a whole number from -20 (first served) to 19 (last), not {describe(value)}")
    return level


def _whole(value: Any) -> int | None:
    """A whole number, also from its text (a rendered template is text); None if it is none."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _limits(value: Any) -> Limits:
    fields = Fields(value, "limits")
    limits = Limits(**{name: fields.take(name, _DEFERRED[name], None) for name in ("memory", "cpu", "tasks", "nice")})
    fields.done()
    return limits


def _output(value: Any) -> Output:
    fields = Fields(value, "output")
    output = Output(split=fields.take("split", boolean, False))
    fields.done()
    return output


# The parsers of the fields a template may defer, made once: a large folder parses many programs.
# Those of the sub-mappings remember what they read: most jobs of a folder share their limits.
_DEFERRED: dict[str, Callable[[Any], Any]] = {
    name: deferred(parse) for name, parse in {
        "duration": parse_duration, "success": _success, "cwd": _cwd, "timeout": _timeout, "signal": _signal,
        "grace_period": _grace_period, "memory": _memory, "cpu": _cpu, "tasks": _tasks, "nice": _nice,
    }.items()
}
_ENV = remembered(_env)
_CREDENTIALS = remembered(_credentials)
_STOP = remembered(_stop)
_LIMITS = remembered(_limits)
_OUTPUT = remembered(_output)
