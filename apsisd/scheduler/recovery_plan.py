"""What a start after downtime does, pure: the store's runs in flight, the jobs as read now and their cursors in;
the runs to follow, the missed runs to catch up or skip, the runs to withdraw or create, out (recovery.py applies
it). The rules are docs/operations.md's "After downtime" and "Restart and crash recovery":

- starting, running, stopping: followed on the host; a `starting` run with
  no trace there is started then (its spec was committed before); a running
  run's stop time armed again, a stopping run's stop asked for again.
- waiting: its conditions bound again and checked (a run of a job no longer
  loaded is in error: its conditions are unknown).
- scheduled runs that came due, and the runs the schedules gave while
  apsisd was down (each job's cursor up to now): the job's catch-up policy
  decides which start now; the others are recorded as skipped, with why.
- scheduled runs still to come: made to fit each job as its file reads
  now (it may have been edited while apsisd was down), as a reload would.
- a job no longer loaded: its future scheduled runs withdrawn, those that
  came due skipped, its cursor forgotten.
- the jobs held (their files exist but have problems, JobSet.held): their
  runs and cursor are left as stored, nothing withdrawn, caught up or
  started (a run already on the host is still followed to its end: its spec
  is fixed), until a reload reads their files again and takes them up as a
  start would (take_up()); their waiting runs wait, their conditions unknown.
- units the host still has loaded whose runs have ended (ended_units()).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from agentd.host import UnitState
from agentd.types import JobId, RunId
from apsisd.jobs.model import Job, JobSet
from apsisd.jobs.scheduling import Scheduling
from apsisd.runs.model import LogEntry, Origin, Run, transition
from apsisd.runs.skips import job_not_loaded
from apsisd.runs.state import State
from apsisd.scheduler.plan import Missed, NewRun, catch_up, fit

AT_START = "job as read at start"
ENDED = ("failed", "inactive")  # a unit's active states once its run has ended


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeUp:
    """What taking jobs up decides, for one commit (Scheduler.apply), the new runs still to draft in this order;
    `caught_up` counts the missed runs that start now."""

    new: list[NewRun]
    withdrawn: list[RunId]
    moved: list[tuple[Run, LogEntry]]
    cursors: dict[JobId, datetime | None]
    caught_up: int

    @property
    def skipped(self) -> int:
        """The runs this commit records as skipped, new or stored."""
        return (sum(1 for each in self.new if each.state is State.SKIPPED)
                + sum(1 for run, _ in self.moved if run.state is State.SKIPPED))


class Pickup(Enum):
    """What becomes of a run the store has in flight at start, by its state."""

    FOLLOW_OR_START = "starting: followed; started now if the host has no trace of it"
    FOLLOW = "running: followed"
    FOLLOW_TO_STOP_TIME = "running with a stop time: followed, stopped at its stop time"
    STOP_AGAIN = "stopping: followed, its stop asked for again"
    WAIT = "waiting: its conditions bound and checked again"
    NOT_LOADED = "waiting, of a job no longer loaded: in error"


@dataclass(frozen=True, slots=True, kw_only=True)
class Recovery:
    """A start's plan: the commit (take_up), then each run in flight picked up (in the store's order); `in_flight`
    and `held` count the runs read and the jobs held, for the log line."""

    take_up: TakeUp
    pickups: list[tuple[Run, Pickup]]
    in_flight: int
    held: int


def recovery(*, runs: Sequence[Run], jobs: JobSet, defaults: Scheduling, cursors: Mapping[JobId, datetime],
             now: datetime, since: datetime | None, finished: Mapping[JobId, Sequence[Run]]) -> Recovery:
    """The plan of a start at `now` from the store's unfinished `runs` and `cursors`, the jobs as read now, the
    runs `finished` ahead of now of the jobs taken_up() (refit.finished_ahead()); missed runs due before `since`
    (apsisd --since) are skipped."""
    taken = take_up(runs=[run for run in runs if run.job_id not in jobs.held], job_ids=taken_up(jobs, cursors),
                    jobs=jobs.jobs, defaults=defaults, cursors=cursors, now=now, since=since, finished=finished,
                    why=AT_START)
    pickups = [(run, how) for run in runs if (how := pickup(run, jobs)) is not None]
    return Recovery(take_up=taken, pickups=pickups, in_flight=len(runs), held=len(jobs.held))


def taken_up(jobs: JobSet, cursors: Mapping[JobId, datetime]) -> list[JobId]:
    """The jobs a start takes up: those loaded, then those with a cursor and no file any more (to be removed);
    never a held job."""
    return [*jobs.jobs, *(job_id for job_id in cursors if job_id not in jobs.jobs and job_id not in jobs.held)]


def pickup(run: Run, jobs: JobSet) -> Pickup | None:
    """How a run found unfinished is picked up; None for a scheduled run (take_up() decides its fate) and for a
    held job's waiting run (it waits, its conditions unknown, until a reload reads its file: recovery.resume())."""
    if run.state is State.STARTING:
        return Pickup.FOLLOW_OR_START
    if run.state is State.RUNNING:
        return Pickup.FOLLOW if run.stop_time is None else Pickup.FOLLOW_TO_STOP_TIME
    if run.state is State.STOPPING:
        return Pickup.STOP_AGAIN
    if run.state is State.WAITING and run.job_id not in jobs.held:  # a held job's conditions are not known
        return Pickup.WAIT if run.job_id in jobs.jobs else Pickup.NOT_LOADED
    return None


def take_up(*, runs: Iterable[Run], job_ids: Iterable[JobId], jobs: Mapping[JobId, Job], defaults: Scheduling,
            cursors: Mapping[JobId, datetime], now: datetime, since: datetime | None,
            finished: Mapping[JobId, Sequence[Run]], why: str) -> TakeUp:
    """What becomes of the jobs `job_ids` after a time nothing was scheduled for them (apsisd down, or the job
    held), given their unfinished `runs`, their `cursors` and their runs `finished` ahead of now: a job in
    `jobs` catches up from its cursor by its catch-up policy (only what is due at or after `since`) and its
    future runs fit it as it reads now (`why` says so in their log); a job no longer loaded loses its future
    scheduled runs and its cursor, and the ones that came due are skipped. A job loaded without a cursor (never
    expanded) is left to its first expansion."""
    runs = list(runs)
    missed, withdrawn, moved = _stored(runs, jobs, now)
    by_job: dict[JobId, list[Run]] = defaultdict(list)
    for run in runs:
        by_job[run.job_id].append(run)
    behind: list[JobId] = []  # jobs whose cursor fell behind: it moves to now
    new: list[NewRun] = []
    moved_cursors: dict[JobId, datetime | None] = {}
    for job_id in job_ids:
        job = jobs.get(job_id)
        cursor = cursors.get(job_id)
        if job is None:
            if cursor is not None:
                moved_cursors[job_id] = None
        elif cursor is not None and cursor < now:
            behind.append(job_id)
            missed[job_id].extend(Missed(job_id=job_id, time=due.time, args=due.args)
                                  for due in job.due_between(cursor, now))
        elif cursor is not None:  # the job file may have changed meanwhile: its future runs follow it
            fitted = fit(job, job.scheduling.over(defaults), now, by_job.get(job_id, ()), finished.get(job_id, ()),
                         why)
            withdrawn.extend(fitted.withdrawn)
            new.extend(fitted.new)
            moved.extend(fitted.moved)
            moved_cursors[job_id] = fitted.cursor
    late = _caught_up(missed, jobs, defaults, {run.id: run for run in runs}, now, since)
    moved_cursors.update({job_id: now for job_id in behind})
    return TakeUp(new=[*new, *late.new], withdrawn=withdrawn, moved=[*moved, *late.moved], cursors=moved_cursors,
                  caught_up=late.caught_up)


def _stored(runs: Iterable[Run], jobs: Mapping[JobId, Job], now: datetime
            ) -> tuple[defaultdict[JobId, list[Missed]], list[RunId], list[tuple[Run, LogEntry]]]:
    """The stored runs of the jobs' schedules still scheduled: missed (due before now, job loaded), withdrawn
    (to come, job gone) or skipped (came due, job gone). One due at `now` is not missed: fit() takes it."""
    missed: defaultdict[JobId, list[Missed]] = defaultdict(list)
    withdrawn: list[RunId] = []
    skipped: list[tuple[Run, LogEntry]] = []
    for run in runs:
        if run.state is not State.SCHEDULED or run.origin is not Origin.SCHEDULE:
            continue
        if run.job_id not in jobs:
            if run.schedule_time > now:
                withdrawn.append(run.id)
            else:
                skipped.append(transition(run, State.SKIPPED, now, job_not_loaded(run.job_id)))
        elif run.schedule_time < now:
            missed[run.job_id].append(Missed(job_id=run.job_id, time=run.schedule_time, args=run.args,
                                             existing=run.id))
    return missed, withdrawn, skipped


def _caught_up(missed: Mapping[JobId, Sequence[Missed]], jobs: Mapping[JobId, Job], defaults: Scheduling,
               stored: Mapping[RunId, Run], now: datetime, since: datetime | None) -> TakeUp:
    """The missed runs' verdicts by each job's catch-up policy: those not stored yet created (scheduled to start
    now, or skipped), the stored ones not caught up skipped (the ones caught up stay scheduled: due now)."""
    new: list[NewRun] = []
    skipped: list[tuple[Run, LogEntry]] = []
    caught_up = 0
    for job_id, items in missed.items():
        for verdict in catch_up(items, jobs[job_id].scheduling.over(defaults), now, since):
            item = verdict.missed
            caught_up += verdict.start
            if item.existing is None:
                new.append(NewRun(job_id=job_id, args=item.args, time=item.time, reason=verdict.reason,
                                  state=State.SCHEDULED if verdict.start else State.SKIPPED))
            elif not verdict.start:
                skipped.append(transition(stored[item.existing], State.SKIPPED, now, verdict.reason))
    return TakeUp(new=new, withdrawn=[], moved=skipped, cursors={}, caught_up=caught_up)


def ended_units(units: Iterable[UnitState], in_flight: Container[RunId]) -> list[UnitState]:
    """The host's units to let go (Driver.let_go_of_ended()): those that have ended, of runs that have ended as far
    as the store knows (not `in_flight`). A failed unit stays loaded until it is reset, and apsisd may have died
    between recording a run's end and letting its unit go."""
    return [unit for unit in units if unit.run_id not in in_flight and unit.active_state in ENDED]
