"""The sanity report: what an operator should look at, found by comparing the runs, the jobs and the host.

- late: runs that started more than `late` seconds after their time (in the last `window` seconds);
- overdue: runs still scheduled well past their time (the scheduler should have started them);
- lost: runs shown starting, running or stopping whose unit is gone from their host;
- orphan units: apsis units on a host that belong to no run in flight;
- hostless: runs in flight (or due) whose host is no longer in apsisd.toml: they wait for it;
- unlisted hosts: hosts that could not list their units now (their runs are not called lost for it);
- unscheduled jobs: jobs whose enabled schedules give a time within their horizon, but have no run created;
- job file problems and held jobs: the jobs folder read at start had problems (FILE:LINE), and the jobs of those
  files are held, not scheduled, until a reload reads them again.

Each finding allows GRACE for what is normal in passing (a run that ended a
moment ago, a unit not yet unloaded), so a healthy apsisd reports nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agentd.errors import HostError
from agentd.host import UnitState
from agentd.types import JobId, RunId
from apsisd.errors import FileProblem, UnknownRun
from apsisd.jobs.hosts import LOCAL
from apsisd.runs.model import Run
from apsisd.runs.state import ON_HOST, State
from apsisd.scheduler.host_status import HostStatus, host_statuses
from apsisd.scheduler.service import Scheduler

GRACE = timedelta(seconds=30)
MAX_LATE = 1000  # late runs listed at most
MAX_PROBLEMS = 1000  # job file problems listed at most


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    late: list[Run]
    overdue: list[Run]
    lost: list[Run]
    orphan_units: list[UnitState]
    hostless: list[Run]
    unlisted_hosts: list[tuple[str, str]]  # host, why
    skewed_hosts: list[HostStatus]  # hosts whose clock is SKEW_WARNING or more off apsisd's
    unscheduled_jobs: list[JobId]
    problems: list[FileProblem]
    held_jobs: list[JobId]

    @property
    def ok(self) -> bool:
        return not (self.late or self.overdue or self.lost or self.orphan_units or self.hostless
                    or self.unlisted_hosts or self.skewed_hosts or self.unscheduled_jobs or self.problems
                    or self.held_jobs)


async def sanity(scheduler: Scheduler, *, late: float, window: float) -> Report:
    """What is amiss now; a host that cannot list its units is a finding, not a failure of the whole report."""
    now = scheduler.clock.now()
    router = scheduler.router
    units: dict[RunId, UnitState] = {}
    on_host: dict[RunId, str] = {}
    unlisted: list[tuple[str, str]] = []
    statuses = {status.name: status for status in host_statuses(router.hosts, scheduler.ledger.all())}
    for name, host in router.hosts.items():
        if not statuses[name].reachable:  # asked, it would wait out the call timeout to say so
            unlisted.append((name, f"host {name} unreachable since {statuses[name].since:%Y-%m-%d %H:%M:%S} UTC: "
                                   f"{statuses[name].problem}"))
            continue
        try:
            listed = await host.list()
        except HostError as exc:
            unlisted.append((name, str(exc)))
            continue
        for unit in listed:
            units[unit.run_id] = unit
            on_host[unit.run_id] = name
    asked = set(router.hosts) - {name for name, _ in unlisted}
    in_flight = scheduler.ledger.all()
    settled = now - GRACE
    hostless = [run for run in in_flight if (run.host or LOCAL) not in router.names()]
    lost = [run for run in in_flight if run.state in ON_HOST and on_host.get(run.id) != (run.host or LOCAL)
            and (run.host or LOCAL) in asked and run.times.get(run.state, now) < settled]
    orphans = []
    for run_id, unit in sorted(units.items()):
        if scheduler.ledger.get(run_id) is None and not await _ended_lately(scheduler, run_id, settled):
            orphans.append(unit)
    return Report(
        late=await scheduler.records.store.late(now - timedelta(seconds=window), late, MAX_LATE),
        overdue=sorted((run for run in in_flight if run.state is State.SCHEDULED and run.schedule_time < settled),
                       key=lambda run: run.schedule_time),
        lost=sorted(lost, key=lambda run: run.schedule_time),
        orphan_units=orphans,
        hostless=sorted(hostless, key=lambda run: run.schedule_time),
        unlisted_hosts=unlisted,
        skewed_hosts=[status for status in statuses.values() if status.skewed],
        unscheduled_jobs=_unscheduled(scheduler),
        problems=list(scheduler.jobs.problems[:MAX_PROBLEMS]),
        held_jobs=sorted(scheduler.jobs.held),
    )


async def _ended_lately(scheduler: Scheduler, run_id: RunId, settled: datetime) -> bool:
    """The run ended less than GRACE ago: its unit may not be unloaded yet."""
    try:
        run = await scheduler.records.store.get(run_id)
    except UnknownRun:
        return False
    return run.finished and run.times.get(run.state, settled) >= settled


def _unscheduled(scheduler: Scheduler) -> list[JobId]:
    now = scheduler.clock.now()
    found = []
    for job_id, job in sorted(scheduler.jobs.jobs.items()):
        horizon = scheduler.policy(job).horizon or 0.0
        due = next(job.times(now), None)
        if due is not None and due.time < now + timedelta(seconds=horizon) - GRACE \
                and not scheduler.ledger.scheduled_by_schedule(job_id):
            found.append(job_id)
    return found
