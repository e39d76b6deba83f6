"""What an operator may do: create a run (of a job, or ad hoc with a program of its own), start one now, skip one
before it starts, stop or signal one while it runs, mark or rerun a finished one.

Each checks the run's state against the transition table first and says
why not (TransitionError, UnknownRun), so the API answers a clear 4xx and
nothing is half done; then it goes through the same records as every change.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from agentd.errors import SpecError
from agentd.spec import RunSpec, check, parse_signal
from agentd.types import JobId, RunId
from apsisd.errors import ApsisError, InvalidFields, TransitionError
from apsisd.jobs.hosts import host_name
from apsisd.jobs.program import bind, parse_program
from apsisd.jobs.spec import program_spec
from apsisd.runs.model import Origin, Run
from apsisd.runs.skips import by_operator
from apsisd.runs.state import TRANSITIONS, State
from apsisd.scheduler.service import Scheduler

ADHOC = "adhoc"  # the job id ad hoc runs are filed under unless named


class UnknownJob(ApsisError):
    """No job of this id is loaded."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id} in the jobs folder")


class BadArgs(ApsisError):
    """The args given do not match the job's params."""


async def current(scheduler: Scheduler, run_id: RunId) -> Run:
    """The run as it is now: in flight from the ledger, else from the store; UnknownRun if never recorded."""
    return scheduler.ledger.get(run_id) or await scheduler.records.store.get(run_id)


async def skip(scheduler: Scheduler, run_id: RunId, who: str) -> Run:
    """A run not yet started (scheduled or waiting) ends skipped."""
    run = await current(scheduler, run_id)
    if run.state not in (State.SCHEDULED, State.WAITING):
        raise TransitionError(run_id, run.state, State.SKIPPED, [str(s) for s in sorted(TRANSITIONS[run.state])],
                              why="only a scheduled or waiting run can be skipped")
    moved = await scheduler.records.move(run_id, State.SKIPPED, by_operator(who))
    if moved is None:  # it started meanwhile
        return await skip(scheduler, run_id, who)
    return moved


async def start_now(scheduler: Scheduler, run_id: RunId, who: str) -> Run:
    """A scheduled or waiting run starts now: its time and its conditions are not waited for (logged as such)."""
    run = await current(scheduler, run_id)
    if run.state not in (State.SCHEDULED, State.WAITING):
        raise TransitionError(run_id, run.state, State.STARTING, [],
                              why="only a scheduled or waiting run can be started now")
    if run.spec is None and run.job_id in scheduler.jobs.held:
        raise TransitionError(run_id, run.state, State.STARTING, [], why=f"job {run.job_id} is held: its file has "
                              "problems (apsis check lists them); fix it and reload")
    prepared = await scheduler.driver.prepare(run)
    if prepared is None:  # it moved meanwhile (started on its own, skipped) or could not be bound (now in error)
        return await current(scheduler, run_id)
    await scheduler.records.note(run_id, f"started now by {who}" + (
        ", without waiting for its conditions" if run.state is State.WAITING else ""))
    await scheduler.driver.start_on_host(prepared)
    return await current(scheduler, run_id)


async def stop(scheduler: Scheduler, run_id: RunId, who: str) -> Run:
    """A running run is stopped: its stop signal, the grace period, then SIGKILL (a stopping one is left be)."""
    run = await current(scheduler, run_id)
    if run.state is State.STOPPING:
        return run
    if run.state is not State.RUNNING:
        raise TransitionError(run_id, run.state, State.STOPPING, [], why="only a running run can be stopped")
    await scheduler.driver.stop(run_id, f"stopped by {who}")
    return await current(scheduler, run_id)


async def mark_as(scheduler: Scheduler, run_id: RunId, state: State, who: str) -> Run:
    """A finished run recorded as another finished state (an operator's correction, logged as such)."""
    return await scheduler.records.mark(await current(scheduler, run_id), state, f"by {who}")


async def create(scheduler: Scheduler, job_id: JobId, args: Mapping[str, str], at: datetime | None, who: str
                 ) -> Run:
    """A run of a job of the folder, with exactly its params as args, due at `at` (now by default)."""
    job = scheduler.jobs.jobs.get(job_id)
    if job is None:
        raise UnknownJob(job_id)
    missing = [name for name in job.params if name not in args]
    extra = sorted(set(args) - set(job.params))
    if missing or extra:
        wanted = ", ".join(job.params) or "none"
        raise BadArgs(f"job {job_id} takes args {wanted}; " + "; ".join(
            ([f"missing: {', '.join(missing)}"] if missing else []) + ([f"not params: {', '.join(extra)}"] if extra
                                                                       else [])))
    return await scheduler.create(job_id, args, origin=Origin.MANUAL, at=at, reason=f"created by {who}")


async def create_adhoc(scheduler: Scheduler, program: Any, name: str, at: datetime | None, who: str,
                       vet: Callable[[RunSpec], RunSpec], *, host: Any = None) -> Run:
    """A run of a program of its own (a job's `program:` value), filed under the job id `name`; BadArgs if the
    program is not one a job could have, names credentials (files systemd would read as root for the caller), or
    `name` is a loaded job's (its runs would be mistaken for the job's). `vet` makes the checked spec what its
    caller may run (their own user, say), or raises why not."""
    if not name or len(name) > 200 or "\0" in name or "\n" in name:
        raise BadArgs("name must be a short text without NUL or newline, such as adhoc or backup-by-hand")
    if host is not None:
        _check_host(scheduler, host)
    if name in scheduler.jobs.jobs or name in scheduler.jobs.held:
        raise BadArgs(f"{name} is a job of the jobs folder; give the ad hoc run another name, or create a run of "
                      "the job")
    try:
        parsed = parse_program(program)
    except InvalidFields as exc:
        raise BadArgs(f"{exc.under('program')}") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # a parser let its own error out: still the caller's
        raise BadArgs(f"program: cannot be read: {exc}") from exc
    if parsed.credentials or parsed.encrypted_credentials:
        raise BadArgs("program: credentials are for the jobs of the jobs folder: systemd reads their files as root, "
                      "so only a job's author names them; put the program in a job")
    calendars = scheduler.jobs.calendars

    def spec_of(run_id: RunId) -> RunSpec:
        """Bound now (its templates see run_id and job_id), so its spec is fixed before it is committed."""
        spec = program_spec(bind(parsed, {"run_id": run_id, "job_id": name}, calendars), run_id, JobId(name))
        check(spec)
        return vet(spec)

    try:
        return await scheduler.create(JobId(name), {}, origin=Origin.ADHOC, at=at, spec_of=spec_of,
                                      reason=f"ad hoc run created by {who}", host=host)
    except InvalidFields as exc:
        raise BadArgs(str(exc)) from None
    except SpecError as exc:
        raise BadArgs(f"program: {exc}") from None


async def rerun(scheduler: Scheduler, run_id: RunId, who: str) -> Run:
    """A new run of a finished run's job with its args, now, linked to it; bound to the job as it reads now."""
    run = await current(scheduler, run_id)
    if not run.finished:
        raise TransitionError(run_id, run.state, run.state, [], why="only a finished run can be run again")
    if run.job_id not in scheduler.jobs.jobs:
        raise UnknownJob(run.job_id)
    return await scheduler.create(run.job_id, run.args, origin=Origin.RERUN, previous=run_id,
                                  reason=f"rerun of {run_id} by {who}")


async def send_signal(scheduler: Scheduler, run_id: RunId, signal: str, who: str) -> Run:
    """A signal to every process of a running (or stopping) run; noted in its log, no change of state."""
    run = await current(scheduler, run_id)
    if run.state not in (State.RUNNING, State.STOPPING):
        raise TransitionError(run_id, run.state, run.state, [], why="only a running or stopping run can be signalled")
    number = parse_signal(signal)
    await scheduler.host_of(run).kill(run_id, number)
    await scheduler.records.note(run_id, f"signal {number.name} sent by {who}")
    return run


def _check_host(scheduler: Scheduler, host: Any) -> None:
    """BadArgs unless `host` names a configured host or group (an ad hoc run's `host`), checked as a job's
    `host:` is at load."""
    try:
        name = host_name(host)
    except InvalidFields as exc:
        raise BadArgs(f"{exc.under('host')}") from None
    wrong = scheduler.router.unknown(name)
    if wrong is not None:
        raise BadArgs(f"host: {wrong}")
