"""A job as loaded from its file, and the set of jobs (with their calendars) a folder holds.

Conditions and actions are parsed by their registries when the job is
loaded (apsisd.conditions.registry, apsisd.actions.registry), so a job that
loads has no condition or action the daemon would refuse later.
"""
from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import Any, cast

from agentd.types import JobId
from apsisd.actions.base import Action
from apsisd.calendars.calendar import Calendar
from apsisd.conditions.base import Condition
from apsisd.errors import FileProblem
from apsisd.jobs.hosts import LOCAL
from apsisd.jobs.program import Program
from apsisd.jobs.retry import Retry
from apsisd.jobs.scheduling import UNSET, Scheduling
from apsisd.runs.model import Origin, Run
from apsisd.schedules.base import EMPTY, ArgSource, Due, LazyArgs, RunSource, Schedule, make_due


@dataclass(frozen=True, slots=True, kw_only=True)
class Metadata:
    """What a job says about itself: a Markdown description, labels, and any other keys as written."""

    description: str = ""
    labels: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


NO_METADATA = Metadata()


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One job file, checked: its runs' params, when they are due, and what they run.

    `actions` includes the `successors` shorthand, expanded to `schedule`
    actions on success. `retry` is None when failed runs are not retried.
    `written` is the file's value as jobs/jso.py keeps it (None for a job
    made in code), for the job's JSON; it is not compared: a job changes
    when what it does changes, so a reload that only rewords a file (a
    program string written as a mapping) changes no runs.
    """

    id: JobId
    params: tuple[str, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    program: Program
    conditions: tuple[Condition, ...] = ()
    actions: tuple[Action, ...] = ()
    retry: Retry | None = None
    metadata: Metadata = NO_METADATA
    scheduling: Scheduling = UNSET
    host: str = LOCAL  # the host or group its runs go to (a group picks one host per run, when it is bound)
    written: bytes | None = field(default=None, compare=False, repr=False)

    def times(self, start: datetime) -> Iterator[Due]:
        """Every run due at or after `start` from the enabled schedules, in time order, args cut to the params.

        Two schedules due at the same instant give two runs, as in Apsis.
        Unbounded unless every schedule is finite: callers stop it.
        """
        sources = [map(_Cutter(self.params, schedule).cut, schedule.times(start))
                   for schedule in self.schedules if schedule.enabled]
        if not sources:
            return
        yield from sources[0] if len(sources) == 1 else heapq.merge(*sources, key=lambda due: due.time)

    def due_between(self, start: datetime, stop: datetime) -> list[Due]:
        """The runs of times() in [start, stop): what the scheduler creates up to its horizon.

        The same as cutting times() at `stop`, with fewer steps per run: a
        horizon over 100,000 jobs is millions of runs. What a run keeps of
        each schedule's args is worked out once per schedule (_Cutter).
        """
        found: list[Due] = []
        for schedule in self.schedules:
            if schedule.enabled:
                # Made anew each time rather than kept on the job: hundreds of thousands of long-lived objects
                # would make the cyclic collector sweep the whole heap during an expansion.
                _Cutter(self.params, schedule).extend(found, start, stop)
        if len(self.schedules) > 1:
            found.sort(key=itemgetter(0))  # by time; stable: equal instants keep the schedules' order
        return found

class _Cutter:
    """One schedule's runs with only the args the job declares (every enabled schedule gives each: checked
    at load), with what can be known before the first run worked out.

    A param the schedule's own args give has the same value in every run,
    and the others are its auto args: each run copies a dict holding the
    former and asks the schedule for the latter. A schedule that is a
    RunSource gives its runs as their `at` (led by the instant), without a
    Due and LazyArgs to make and take apart; the others' Dues are cut one
    arg at a time.
    """

    __slots__ = ("autos", "make", "names", "runs", "schedule", "template")

    def __init__(self, names: tuple[str, ...], schedule: Schedule) -> None:
        self.names = names
        self.schedule = schedule
        own = schedule.args
        self.autos = tuple(name for name in names if name not in own)
        self.template = {name: own.get(name, "") for name in names}  # in params order: the autos are set per run
        known: frozenset[str] | None = getattr(schedule, "auto_names", None)  # an ArgSource's
        fits = known is not None and known.issuperset(self.autos)
        self.make = cast(ArgSource, schedule).auto_arg if fits else None
        self.runs = cast(RunSource, schedule).runs if fits and hasattr(schedule, "runs") else None

    def extend(self, found: list[Due], start: datetime, stop: datetime) -> None:
        """Append the schedule's runs in [start, stop) to `found`, args cut to the job's params."""
        append = found.append
        if self.runs is None:
            for due in self.schedule.times(start):
                if due[0] >= stop:  # due.time, by index: the loops run millions of times
                    break
                append(self.cut(due))
        elif not self.names:
            for at in self.runs(start):
                if at[0] >= stop:
                    break
                append(make_due((at[0], EMPTY, None)))
        else:
            template, autos, make = self.template, self.autos, self.make
            assert make is not None
            for at in self.runs(start):
                instant = at[0]
                if instant >= stop:
                    break
                made = template.copy()
                for name in autos:
                    made[name] = make(at, name)
                append(make_due((instant, made, None)))

    def cut(self, due: Due) -> Due:
        """One of the schedule's Dues with only the job's params as args."""
        time, args, stop = due
        if not self.names:
            return make_due((time, EMPTY, stop))  # the args are made lazily: never reading them is free
        if self.make is None or args.__class__ is not LazyArgs or args.source is not self.schedule:
            return make_due((time, {name: args[name] for name in self.names}, stop))
        made = self.template.copy()
        at = args.at
        for name in self.autos:
            made[name] = self.make(at, name)
        return make_due((time, made, stop))


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSet:
    """Every job of a folder by id, and the named calendars they were checked against.

    Read at start, the folder may have problems (`problems`, FILE:LINE): then the jobs whose files exist but
    cannot be read are `held`, not removed (their runs and cursor wait for a reload that reads them again).
    """

    jobs: Mapping[JobId, Job]
    calendars: Mapping[str, Calendar]
    held: frozenset[JobId] = frozenset()
    problems: tuple[FileProblem, ...] = ()

    def params_of(self, job_id: JobId) -> tuple[str, ...] | None:
        """The job's params; None when no such job is loaded (what conditions and actions name jobs by)."""
        job = self.jobs.get(job_id)
        return None if job is None else job.params

    def job_of(self, run: Run) -> Job | None:
        """The loaded job the run is a run of; None for a job no longer loaded, and for an ad hoc run, whose
        program is its own whatever job now has its name (no job's conditions, actions or retries apply to it)."""
        return None if run.origin is Origin.ADHOC else self.jobs.get(run.job_id)

    def select(self, path: str | None = None, labels: Collection[str] = ()) -> list[Job]:
        """The jobs under `path` (in_folder) having every one of `labels`, by id."""
        wanted = frozenset(labels)
        return sorted((job for job_id, job in self.jobs.items()
                       if in_folder(job_id, path) and wanted.issubset(job.metadata.labels)), key=attrgetter("id"))


def in_folder(job_id: str, path: str | None) -> bool:
    """Whether the job is under `path`, a folder: 'etl/' names the jobs under etl/, 'etl' also the job etl itself,
    never etl2 (as RunQuery.job_prefix); None, '' or '/' every job."""
    folder = (path or "").rstrip("/")
    return not folder or job_id.startswith(folder + "/") or (path is not None and not path.endswith("/")
                                                             and job_id == folder)
