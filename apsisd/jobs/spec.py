"""A bound program -> the RunSpec a host runs: the one place job programs meet units.

A no-op program runs too, as a unit that sleeps its duration and exits 0
or 1: one path for every run, so stop, recovery and output work the same
for it. Every run's environment has APSIS_RUN_ID and APSIS_JOB_ID, so a
program can name itself (in its own logs, or to the API).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import TypeVar

from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.jobs.program import Kind, Program
from apsisd.jobs.templates import Template

T = TypeVar("T")
NO_OP_SCRIPT = 'sleep "$1"; exit "$2"'


def program_spec(program: Program, run_id: RunId, job_id: JobId) -> RunSpec:
    """The spec of a bound program (bind() rendered every template; a Template left here is a bug)."""
    env = MappingProxyType({**program.env, "APSIS_RUN_ID": run_id, "APSIS_JOB_ID": job_id})
    if program.kind is Kind.NO_OP:
        return RunSpec(run_id=run_id, job_id=job_id, env=env,
                       argv=("/bin/sh", "-c", NO_OP_SCRIPT, "no-op", _seconds(_plain(program.duration)),
                             "0" if _plain(program.success) else "1"))
    limits, stop = program.limits, program.stop
    return RunSpec(
        run_id=run_id, job_id=job_id, env=env,
        shell=program.command if program.kind is Kind.SHELL else None,
        argv=program.argv if program.kind is Kind.EXEC else None,
        user=program.user, group=program.group, cwd=_plain(program.cwd), timeout=_plain(program.timeout),
        stop_signal=int(_plain(stop.signal)), grace_period=float(_plain(stop.grace_period)),
        memory_max=_plain(limits.memory), cpu_quota=_plain(limits.cpu), tasks_max=_plain(limits.tasks),
        nice=_plain(limits.nice), split_output=program.output.split,
        credentials=program.credentials, encrypted_credentials=program.encrypted_credentials,
    )


def _plain(value: T | Template) -> T:
    """A bound field's value: bind() leaves no Template behind."""
    assert not isinstance(value, Template), value
    return value


def _seconds(value: float) -> str:
    """Seconds for sleep(1), to the µs and without an exponent (`:g` made 1234567 s into 1.23457e+06)."""
    return f"{value:.6f}".rstrip("0").rstrip(".")
