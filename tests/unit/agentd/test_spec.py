"""check(), parse_signal() and RunSpec.command(): pure, table-driven."""
from __future__ import annotations

import signal
from dataclasses import FrozenInstanceError, replace
from typing import Any

import pytest

from agentd.errors import SpecError
from agentd.spec import RunSpec, check, parse_signal
from apsisd.errors import ApsisError

BASE = RunSpec(run_id="r1", argv=("/bin/true",))
SHELL = RunSpec(run_id="r1", shell="echo hi")


def spec(**changes: Any) -> RunSpec:
    return replace(BASE, **changes)


# (changes to BASE, expected SpecError.field)
INVALID: list[tuple[dict[str, Any], str]] = [
    # run_id
    ({"run_id": ""}, "run_id"),
    ({"run_id": "x" * 201}, "run_id"),
    ({"run_id": "a\nb"}, "run_id"),
    ({"run_id": "a\0b"}, "run_id"),
    ({"run_id": "\n"}, "run_id"),
    ({"run_id": 5}, "run_id"),
    ({"run_id": None}, "run_id"),
    # program: exactly one of argv and shell
    ({"argv": None}, "program"),
    ({"argv": None, "shell": None}, "program"),
    ({"shell": "echo hi"}, "program"),
    ({"argv": ("ls",), "shell": "ls"}, "program"),
    # argv
    ({"argv": ()}, "argv"),
    ({"argv": []}, "argv"),
    ({"argv": "ls -l"}, "argv"),
    ({"argv": ""}, "argv"),
    ({"argv": ("",)}, "argv[0]"),
    ({"argv": ("", "x")}, "argv[0]"),
    ({"argv": ("\0",)}, "argv[0]"),
    ({"argv": (None,)}, "argv[0]"),
    ({"argv": (b"/bin/true",)}, "argv[0]"),
    ({"argv": ("ls", 1)}, "argv[1]"),
    ({"argv": ("ls", "a\0b")}, "argv[1]"),
    ({"argv": ("ls", "ok", None)}, "argv[2]"),
    # shell
    ({"argv": None, "shell": ""}, "shell"),
    ({"argv": None, "shell": "   "}, "shell"),
    ({"argv": None, "shell": "\n\t"}, "shell"),
    ({"argv": None, "shell": "echo\0hi"}, "shell"),
    ({"argv": None, "shell": 5}, "shell"),
    ({"argv": None, "shell": ["echo", "hi"]}, "shell"),
    # user, group
    ({"user": ""}, "user"),
    ({"user": "a\0b"}, "user"),
    ({"user": 1000}, "user"),
    ({"group": ""}, "group"),
    ({"group": "a\0b"}, "group"),
    ({"group": ["wheel"]}, "group"),
    # env
    ({"env": {"1A": "x"}}, "env.1A"),
    ({"env": {"A-B": "x"}}, "env.A-B"),
    ({"env": {"A B": "x"}}, "env.A B"),
    ({"env": {"A=B": "x"}}, "env.A=B"),
    ({"env": {"": "x"}}, "env."),
    ({"env": {"A\n": "x"}}, "env.A\n"),
    ({"env": {"É": "x"}}, "env.É"),
    ({"env": {"GOOD": "1", "A": "a\0b"}}, "env.A"),
    ({"env": {"A": 1}}, "env.A"),
    ({"env": {"A": None}}, "env.A"),
    ({"env": {"A": b"x"}}, "env.A"),
    # credentials
    ({"credentials": {"a/b": "/etc/x"}}, "credentials.a/b"),
    ({"credentials": {".": "/etc/x"}}, "credentials.."),
    ({"credentials": {"": "/etc/x"}}, "credentials."),
    ({"credentials": {"x" * 256: "/etc/x"}}, f"credentials.{'x' * 256}"),
    ({"credentials": {"a:b": "/etc/x"}}, "credentials.a:b"),
    ({"credentials": {"t": "etc/x"}}, "credentials.t"),
    ({"credentials": {"t": "/etc/../x"}}, "credentials.t"),
    ({"credentials": {"t": "/etc/x/"}}, "credentials.t"),
    ({"credentials": {"t": "/etc/x\n"}}, "credentials.t"),
    ({"credentials": {"t": 5}}, "credentials.t"),
    ({"encrypted_credentials": {"t": "/etc//x"}}, "encrypted_credentials.t"),
    ({"credentials": {"t": "/a"}, "encrypted_credentials": {"t": "/b"}}, "encrypted_credentials.t"),
    # cwd
    ({"cwd": "relative/dir"}, "cwd"),
    ({"cwd": "."}, "cwd"),
    ({"cwd": ""}, "cwd"),
    ({"cwd": "~/x"}, "cwd"),
    ({"cwd": 5}, "cwd"),
    # timeout: strictly positive
    ({"timeout": 0}, "timeout"),
    ({"timeout": 0.0}, "timeout"),
    ({"timeout": -1}, "timeout"),
    ({"timeout": -0.5}, "timeout"),
    ({"timeout": float("nan")}, "timeout"),
    ({"timeout": "10"}, "timeout"),
    ({"timeout": True}, "timeout"),
    # stop.grace_period: zero allowed
    ({"grace_period": -1}, "stop.grace_period"),
    ({"grace_period": -0.001}, "stop.grace_period"),
    ({"grace_period": float("nan")}, "stop.grace_period"),
    ({"grace_period": "30"}, "stop.grace_period"),
    ({"grace_period": False}, "stop.grace_period"),
    # stop.signal
    ({"stop_signal": "NOPE"}, "stop.signal"),
    ({"stop_signal": "SIGNOPE"}, "stop.signal"),
    ({"stop_signal": ""}, "stop.signal"),
    ({"stop_signal": 0}, "stop.signal"),
    ({"stop_signal": -1}, "stop.signal"),
    ({"stop_signal": 999}, "stop.signal"),
    ({"stop_signal": True}, "stop.signal"),
    # limits.memory: integer >= 1
    ({"memory_max": 0}, "limits.memory"),
    ({"memory_max": -1}, "limits.memory"),
    ({"memory_max": 1.5}, "limits.memory"),
    ({"memory_max": 1024.0}, "limits.memory"),
    ({"memory_max": "1G"}, "limits.memory"),
    ({"memory_max": True}, "limits.memory"),
    # limits.cpu: number > 0
    ({"cpu_quota": 0}, "limits.cpu"),
    ({"cpu_quota": -50}, "limits.cpu"),
    ({"cpu_quota": float("nan")}, "limits.cpu"),
    ({"cpu_quota": "50%"}, "limits.cpu"),
    ({"cpu_quota": True}, "limits.cpu"),
    # limits.tasks: integer >= 1
    ({"tasks_max": 0}, "limits.tasks"),
    ({"tasks_max": -3}, "limits.tasks"),
    ({"tasks_max": 10.0}, "limits.tasks"),
    ({"tasks_max": "10"}, "limits.tasks"),
    ({"tasks_max": True}, "limits.tasks"),
    # limits.nice: integer in -20..19
    ({"nice": 20}, "limits.nice"),
    ({"nice": -21}, "limits.nice"),
    ({"nice": 100}, "limits.nice"),
    ({"nice": True}, "limits.nice"),
    ({"nice": False}, "limits.nice"),
    ({"nice": 1.0}, "limits.nice"),
    ({"nice": "5"}, "limits.nice"),
    # output.split: a boolean
    ({"split_output": 1}, "output.split"),
    ({"split_output": "true"}, "output.split"),
    ({"split_output": None}, "output.split"),
]

VALID: list[dict[str, Any]] = [
    {},
    {"run_id": "x"},
    {"run_id": "x" * 200},
    {"run_id": "a/b c-d.é"},
    {"job_id": "backup"},
    {"argv": ["/bin/echo", "hi"]},
    {"argv": ("ls", "")},
    {"argv": ("ls", "$HOME; rm -rf /")},
    {"argv": None, "shell": "echo hi"},
    {"argv": None, "shell": " x "},
    {"user": "nobody"},
    {"user": "1000"},
    {"group": "nogroup"},
    {"group": "65534"},
    {"user": "nobody", "group": "nogroup"},
    {"env": {}},
    {"env": {"A": ""}},
    {"env": {"_": "x", "a1": "y", "PATH": "/bin:/usr/bin", "X": "a=b\nc"}},
    {"cwd": "/"},
    {"cwd": "/tmp/some dir"},
    {"timeout": 0.001},
    {"timeout": 1},
    {"timeout": 3600.5},
    {"grace_period": 0},
    {"grace_period": 0.0},
    {"grace_period": 10},
    {"stop_signal": "TERM"},
    {"stop_signal": "SIGTERM"},
    {"stop_signal": "term"},
    {"stop_signal": "sigterm"},
    {"stop_signal": " INT "},
    {"stop_signal": "KILL"},
    {"stop_signal": 15},
    {"stop_signal": 9},
    {"memory_max": 1},
    {"memory_max": 2**33},
    {"cpu_quota": 0.5},
    {"cpu_quota": 50},
    {"cpu_quota": 250.0},
    {"tasks_max": 1},
    {"tasks_max": 4096},
    {"nice": -20},
    {"nice": 0},
    {"nice": 19},
    {"split_output": True},
    {"split_output": False},
]


@pytest.mark.parametrize(("changes", "field"), INVALID, ids=[f"{f}-{i}" for i, (_, f) in enumerate(INVALID)])
def test_check_refuses_with_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as info:
        check(spec(**changes))
    assert info.value.field == field
    assert info.value.problem
    assert repr(field) in str(info.value)


@pytest.mark.parametrize("changes", VALID, ids=[str(i) for i in range(len(VALID))])
def test_check_accepts(changes: dict[str, Any]) -> None:
    assert check(spec(**changes)) is None


def test_check_accepts_a_shell_spec() -> None:
    assert check(SHELL) is None


def test_run_id_is_checked_before_the_program() -> None:
    with pytest.raises(SpecError) as info:
        check(spec(run_id="", argv=None))
    assert info.value.field == "run_id"


def test_first_bad_argument_is_named() -> None:
    with pytest.raises(SpecError) as info:
        check(spec(argv=("ls", "ok", 3, None)))
    assert info.value.field == "argv[2]"


def test_spec_error_is_an_apsis_error() -> None:
    error = SpecError("cwd", "must be absolute")
    assert isinstance(error, ApsisError)
    assert (error.field, error.problem) == ("cwd", "must be absolute")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("TERM", signal.SIGTERM),
        ("SIGTERM", signal.SIGTERM),
        ("term", signal.SIGTERM),
        ("sigterm", signal.SIGTERM),
        ("  hup\n", signal.SIGHUP),
        ("KILL", signal.SIGKILL),
        ("INT", signal.SIGINT),
        ("USR1", signal.SIGUSR1),
        (15, signal.SIGTERM),
        (9, signal.SIGKILL),
        (signal.SIGINT, signal.SIGINT),
    ],
)
def test_parse_signal(value: str | int, expected: signal.Signals) -> None:
    parsed = parse_signal(value)
    assert parsed is expected
    assert isinstance(parsed, signal.Signals)


@pytest.mark.parametrize("value", ["NOPE", "SIG", "", "15", "TERM KILL", 0, -9, 10_000, True, False])
def test_parse_signal_refuses(value: str | int) -> None:
    with pytest.raises(SpecError) as info:
        parse_signal(value)
    assert info.value.field == "signal"


def test_parse_signal_names_the_field_it_was_given() -> None:
    with pytest.raises(SpecError) as info:
        parse_signal("NOPE", "kill.signal")
    assert info.value.field == "kill.signal"


@pytest.mark.parametrize(
    "command",
    ["echo hi", "echo $HOME; rm -rf /tmp/x", "a 'b c' \"d\"", "exit 3"],
)
def test_shell_command_is_one_argument(command: str) -> None:
    assert spec(argv=None, shell=command).command() == ("/bin/sh", "-c", command)


@pytest.mark.parametrize(
    "argv",
    [
        ("/bin/true",),
        ("/bin/echo", "a b", "", "$HOME; rm -rf /", "'q'"),
        ["ls", "-l", "*"],
    ],
)
def test_argv_is_executed_as_is(argv: tuple[str, ...] | list[str]) -> None:
    command = spec(argv=argv).command()
    assert isinstance(command, tuple)
    assert command == tuple(argv)
    assert len(command) == len(argv)


def test_spec_is_frozen_and_has_defaults() -> None:
    with pytest.raises(FrozenInstanceError):
        BASE.run_id = "other"  # type: ignore[misc]
    assert BASE.stop_signal == "TERM"
    assert BASE.grace_period == 30.0
    assert dict(BASE.env) == {}
    assert (BASE.timeout, BASE.memory_max, BASE.cpu_quota, BASE.tasks_max, BASE.nice) == (None,) * 5


def test_default_env_cannot_be_mutated() -> None:
    with pytest.raises(TypeError):
        BASE.env["X"] = "1"  # type: ignore[index]
    assert dict(RunSpec(run_id="r2", argv=("x",)).env) == {}


def test_spec_needs_keywords() -> None:
    with pytest.raises(TypeError):
        RunSpec("r1", None, ("ls",))  # type: ignore[misc]
    assert RunSpec(run_id="r1", argv=("ls",)).argv == ("ls",)
