"""What runs to create, pure: a job's runs up to its horizon, the fate of the runs missed while apsisd was down, and
a job's future runs made to fit it as it reads now.

Everything here takes the time as an argument and returns decisions; the
service carries them out. A job's *cursor* is the instant before which its
schedules' runs have all been created: expansion resumes there, and after
downtime [cursor, now) is exactly what was missed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from agentd.types import JobId, RunId
from apsisd.jobs.model import Job
from apsisd.jobs.scheduling import CatchUp, Scheduling
from apsisd.runs.model import LogEntry, Origin, Run
from apsisd.runs.skips import missed_reason
from apsisd.runs.state import State
from apsisd.schedules.base import Due


@dataclass(frozen=True, slots=True, kw_only=True)
class Expansion:
    """The runs to create for one job, and where the cursor goes.

    `capped` is true when `max_scheduled` stopped the expansion before the
    horizon: more runs are created as the job's scheduled runs start.
    `next_due` is the first run not created (None: the schedules end).
    """

    dues: list[Due]
    cursor: datetime
    next_due: datetime | None
    capped: bool


def expand(job: Job, policy: Scheduling, cursor: datetime, now: datetime, scheduled: int) -> Expansion:
    """The job's runs in [cursor, now + horizon), keeping at most `max_scheduled` scheduled (`scheduled` are).

    A cap never splits an instant: two schedules due at the same time give
    both runs or neither, so the cursor can rest on that instant. An instant
    that does not fit in the room left waits for the scheduled runs to start,
    unless none are: then it is taken whole even if larger than the cap, or
    the job would never move on. The cursor never goes back (a clock stepped
    back, a lowered horizon): the runs before it exist already.
    """
    assert policy.horizon is not None and policy.max_scheduled is not None
    room = policy.max_scheduled - scheduled
    horizon = max(cursor, now + timedelta(seconds=policy.horizon))
    dues: list[Due] = []
    instant = 0  # where the runs of the latest instant begin in `dues`
    for due in job.times(cursor):
        if due.time >= horizon:
            return Expansion(dues=dues, cursor=horizon, next_due=due.time, capped=False)
        if dues and due.time != dues[-1].time:
            if len(dues) >= room:
                return Expansion(dues=dues, cursor=due.time, next_due=due.time, capped=True)
            instant = len(dues)
        dues.append(due)
        if len(dues) > room and (instant > 0 or scheduled > 0):
            if instant == 0:  # no room for the first instant: nothing moves
                return Expansion(dues=[], cursor=cursor, next_due=due.time, capped=True)
            rest = dues[instant].time
            return Expansion(dues=dues[:instant], cursor=rest, next_due=rest, capped=True)
    return Expansion(dues=dues, cursor=horizon, next_due=None, capped=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Missed:
    """A run that came due while apsisd was down: its job, when, args, and the key of an existing run if any."""

    job_id: JobId
    time: datetime
    args: Mapping[str, str]
    existing: RunId | None = None  # the stored run's id, for runs created before the downtime


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    missed: Missed
    start: bool
    reason: str


def catch_up(missed: Sequence[Missed], policy: Scheduling, now: datetime, since: datetime | None) -> list[Verdict]:
    """Which missed runs of one job start now (late) and why the others are skipped, in time order.

    `since` (apsisd --since) is how far back this start looks: earlier runs
    are skipped. `max_age` skips what is too old to be worth running. Of
    the rest, `latest` starts only the runs due at the newest missed instant
    (a missed day of an hourly report is one report, not 24; a job's runs
    carry their date or time as args, so "the same args" would group
    nothing), `none` none of them.
    """
    ordered = sorted(missed, key=lambda m: m.time)
    max_age = policy.max_age
    oldest = now - timedelta(seconds=max_age) if max_age is not None else None
    newest = max((item.time for item in ordered if _eligible(item, since, oldest)), default=None)
    verdicts = []
    for item in ordered:
        if since is not None and item.time < since:
            verdicts.append(Verdict(missed=item, start=False,
                                    reason=missed_reason(f"before --since {since.isoformat()}")))
        elif oldest is not None and item.time < oldest:
            verdicts.append(Verdict(missed=item, start=False,
                                    reason=missed_reason(f"older than max_age ({_seconds(max_age)})")))
        elif policy.catchup is CatchUp.NONE:
            verdicts.append(Verdict(missed=item, start=False, reason=missed_reason("catchup is none")))
        elif policy.catchup is CatchUp.LATEST and item.time != newest:
            verdicts.append(Verdict(missed=item, start=False, reason=missed_reason(
                "catchup is latest: the job's latest missed run starts instead")))
        else:
            verdicts.append(Verdict(missed=item, start=True, reason=missed_reason("caught up")))
    return verdicts


def _eligible(item: Missed, since: datetime | None, oldest: datetime | None) -> bool:
    return (since is None or item.time >= since) and (oldest is None or item.time >= oldest)


def _seconds(value: float | None) -> str:
    return f"{value:g} s"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobChanges:
    added: tuple[JobId, ...]
    changed: tuple[JobId, ...]
    removed: tuple[JobId, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def job_changes(old: Mapping[JobId, Job], new: Mapping[JobId, Job]) -> JobChanges:
    """Which jobs a reload adds, changes (any difference at all) and removes, each sorted."""
    return JobChanges(
        added=tuple(sorted(job_id for job_id in new if job_id not in old)),
        changed=tuple(sorted(job_id for job_id, job in new.items() if job_id in old and old[job_id] != job)),
        removed=tuple(sorted(job_id for job_id in old if job_id not in new)),
    )


_Slot = tuple[datetime, tuple[tuple[str, str], ...]]


def _slot(time: datetime, args: Mapping[str, str]) -> _Slot:
    return time, tuple(sorted(args.items()))


def rematch(existing: Iterable[tuple[RunId, datetime, Mapping[str, str]]], dues: Sequence[Due],
            taken: Iterable[tuple[datetime, Mapping[str, str]]] = ()
            ) -> tuple[list[RunId], list[Due], list[tuple[RunId, Due]]]:
    """After a job changed: which of its scheduled runs (key, time, args) no longer fit, which dues are new, and
    which runs stay, each with the due it stands for (its stop time may have changed).

    A run whose time and args the new job still gives keeps its id: a
    reload that changes only the program does not renumber tomorrow's run.
    `taken` are the slots (time, args) whose runs are past scheduled
    (starting, running, finished: committed as starting just before their
    time, or skipped ahead of it): the dues they stand for are not new, and
    they are matched first, so a slot never has two runs.
    """
    wanted: dict[_Slot, list[Due]] = {}
    for due in dues:
        wanted.setdefault(_slot(due.time, due.args), []).append(due)
    for time, args in taken:
        if matches := wanted.get(_slot(time, args)):
            matches.pop()
    gone, kept = [], []
    for key, time, args in existing:
        matches = wanted.get(_slot(time, args))
        if matches:
            kept.append((key, matches.pop()))
        else:
            gone.append(key)
    fresh = sorted((due for group in wanted.values() for due in group), key=lambda due: due.time)
    return gone, fresh, kept


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRun:
    """A run of a job's schedules to create, in the order a plan calls for it (Records.drafts gives each its id in
    that order): scheduled, or recorded as skipped (a missed run not caught up)."""

    job_id: JobId
    args: Mapping[str, str]
    time: datetime
    state: State = State.SCHEDULED
    reason: str
    stop_time: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fit:
    """A job's future scheduled runs made to fit it: the runs to withdraw, to create, the kept ones whose stop
    time changed (with the log line that says so), and where the cursor goes."""

    withdrawn: list[RunId]
    new: list[NewRun]
    moved: list[tuple[Run, LogEntry]]
    cursor: datetime


def fit(job: Job, policy: Scheduling, now: datetime, active: Iterable[Run], finished: Iterable[Run], why: str) -> Fit:
    """The job's future scheduled runs made to fit the job as it reads now (changed by a reload, or while apsisd
    was down), from its unfinished runs (`active`) and its runs due from now on that have finished already
    (`finished`): each run it still gives at the same time with the same args is kept (same id, its stop time
    brought up to date), the others are withdrawn, the missing ones created; a slot whose run is past scheduled
    is left to it (docs/operations.md, "One run per schedule slot")."""
    # From now on, a run due at this very instant included: the new expansion gives it too.
    ahead = [run for run in active if made_for(run, now)]
    future = {run.id: run for run in ahead if run.state is State.SCHEDULED}
    taken = [(run.schedule_time, run.args) for run in (*ahead, *finished) if run.state is not State.SCHEDULED]
    plan = expand(job, policy, now, now, 0)
    gone, dues, kept = rematch([(run.id, run.schedule_time, run.args) for run in future.values()], plan.dues, taken)
    moved = [(replace(future[run_id], stop_time=due.stop),
              LogEntry(run_id=run_id, time=now, message=f"stop time now {due.stop} ({why})"))
             for run_id, due in kept if future[run_id].stop_time != due.stop]
    new = [NewRun(job_id=job.id, args=due.args, time=due.time, reason=f"scheduled by the job's schedule ({why})",
                  stop_time=due.stop) for due in dues]
    return Fit(withdrawn=gone, new=new, moved=moved, cursor=plan.cursor)


def made_for(run: Run, now: datetime) -> bool:
    """A run its job's schedules made for `now` or later."""
    return run.origin is Origin.SCHEDULE and run.schedule_time >= now
