"""program_spec(): a bound program -> the RunSpec a host runs, for each program form, no-op included."""
from __future__ import annotations

import signal
import subprocess
from typing import Any

import pytest
import yaml

from agentd.spec import RunSpec, check
from agentd.types import JobId, RunId
from apsisd.jobs.program import bind, parse_program
from apsisd.jobs.spec import NO_OP_SCRIPT, program_spec
from apsisd.jobs.templates import Template

ARGS = {"region": "eu", "minutes": "2", "ok": "false"}
IDS = {"APSIS_RUN_ID": "r42", "APSIS_JOB_ID": "reports/daily"}


def spec_of(text: str, args: dict[str, str] | None = None) -> RunSpec:
    program = bind(parse_program(yaml.safe_load(text)), ARGS if args is None else args, {})
    spec = program_spec(program, RunId("r42"), JobId("reports/daily"))
    check(spec)  # every spec made here is one a host accepts
    return spec


def no_op(seconds: str, exit_status: str) -> tuple[str, ...]:
    return ("/bin/sh", "-c", NO_OP_SCRIPT, "no-op", seconds, exit_status)


# (program as written in a job file) -> the spec's fields that differ from RunSpec's defaults
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("a shell command", "echo hi", {"shell": "echo hi", "stop_signal": signal.SIGTERM}),
    ("an argv", "[/bin/echo, '{{ region }}']", {"argv": ("/bin/echo", "eu"), "stop_signal": signal.SIGTERM}),
    ("exec by type", "{type: exec, argv: [/usr/bin/env]}", {"argv": ("/usr/bin/env",),
                                                            "stop_signal": signal.SIGTERM}),
    ("every systemd field, templated where a template may be",
     """{type: shell, command: "echo {{ region }}", user: nobody, group: nogroup, env: {A: "{{ region }}"},
         cwd: "/srv/{{ region }}", timeout: "{{ minutes }}m", stop: {signal: INT, grace_period: 5s},
         limits: {memory: 512M, cpu: 150%, tasks: 10, nice: 5}, host: elsewhere}""",
     {"shell": 'echo "${APSIS_ARG_region}"', "user": "nobody", "group": "nogroup",
      "env": {"A": "eu", "APSIS_ARG_region": "eu"}, "cwd": "/srv/eu",
      "timeout": 120.0, "stop_signal": signal.SIGINT, "grace_period": 5.0, "memory_max": 512 << 20,
      "cpu_quota": 150.0, "tasks_max": 10, "nice": 5}),
    ("a stop signal and a grace period from the args",
     "{type: shell, command: 'true', stop: {signal: '{{ minutes }}', grace_period: '{{ minutes }}m'}}",
     {"shell": "true", "stop_signal": signal.SIGINT, "grace_period": 120.0}),
    ("credentials, as files for systemd to read",
     "{type: exec, argv: [/bin/ls], credentials: {token: /etc/token}, encrypted_credentials: {db: /etc/db.cred}}",
     {"argv": ("/bin/ls",), "stop_signal": signal.SIGTERM, "credentials": {"token": "/etc/token"},
      "encrypted_credentials": {"db": "/etc/db.cred"}}),
    ("output kept apart", "{type: exec, argv: [/bin/ls], output: {split: true}}",
     {"argv": ("/bin/ls",), "stop_signal": signal.SIGTERM, "split_output": True}),
    # A no-op runs too, as a unit that sleeps its duration and exits 0, or 1 when it is to fail.
    ("a no-op", "{type: no-op}", {"argv": no_op("0", "0")}),
    ("a no-op that fails", "{type: no-op, duration: 1.5, success: false}", {"argv": no_op("1.5", "1")}),
    ("a no-op from the args", "{type: no-op, duration: '{{ minutes }}m', success: '{{ ok }}'}",
     {"argv": no_op("120", "1")}),
    ("a long no-op keeps every second", "{type: no-op, duration: 1234567}", {"argv": no_op("1234567", "0")}),
    ("a no-op keeps its fraction", "{type: no-op, duration: 12345.678}", {"argv": no_op("12345.678", "0")}),
    ("a no-op to the microsecond", "{type: no-op, duration: 0.0000015}", {"argv": no_op("0.000002", "0")}),
]


@pytest.mark.parametrize(("what", "text", "fields"), CASES, ids=[case[0] for case in CASES])
def test_program_spec(what: str, text: str, fields: dict[str, Any]) -> None:
    spec = spec_of(text)
    expected = RunSpec(run_id=RunId("r42"), job_id=JobId("reports/daily"),
                       **{**fields, "env": {**fields.get("env", {}), **IDS}})
    assert spec == expected


def test_every_run_names_itself_in_its_environment_whatever_the_job_says() -> None:
    spec = spec_of("{type: shell, command: 'true', env: {APSIS_RUN_ID: mine, APSIS_JOB_ID: mine, KEEP: x}}")
    assert dict(spec.env) == {"KEEP": "x", **IDS}
    with pytest.raises(TypeError):
        spec.env["X"] = "y"  # type: ignore[index]


def test_the_no_op_script_sleeps_then_exits_as_told() -> None:
    """The script itself, run by the same /bin/sh a unit would run it with."""
    ok = subprocess.run(no_op("0", "0"), timeout=10, check=False)
    failed = subprocess.run(no_op("0.01", "1"), timeout=10, check=False)
    assert (ok.returncode, failed.returncode) == (0, 1)


def test_a_template_left_unbound_is_a_bug_caught_at_once() -> None:
    unbound = parse_program(yaml.safe_load("{type: no-op, duration: '{{ minutes }}m'}"))
    assert isinstance(unbound.duration, Template)
    with pytest.raises(AssertionError):
        program_spec(unbound, RunId("r1"), JobId("j"))
