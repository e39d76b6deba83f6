"""Each job's last run: the newest that has left its schedule (waiting, under way or ended), as the jobs page
shows it beside the job.

Kept in memory and fed by every committed change (a Records listener), so
a page of 10,000 jobs reads 10,000 entries of a dict rather than asking the
store 10,000 times. What happened before apsisd started is read from the
store once, a job at a time, in the background (`seed`): until a job has
been read, `of` says so (`known`), and the page says "not read yet" rather
than "never ran".
"""
from __future__ import annotations

from collections.abc import Iterable

from agentd.types import JobId
from apsisd.runs.model import Run, run_number
from apsisd.runs.state import State
from apsisd.scheduler import history
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import RunQuery

SHOWN = frozenset(State) - {State.NEW, State.SCHEDULED}  # a run counts from when it is no longer only scheduled


class LastRuns:
    def __init__(self) -> None:
        self._runs: dict[JobId, Run] = {}
        self._read: set[JobId] = set()  # jobs whose runs before apsisd started have been read

    def see(self, old: Run | None, new: Run) -> None:
        """A Records listener: the run is its job's last if it is the newest seen that left its schedule."""
        if new.state in SHOWN:
            kept = self._runs.get(new.job_id)
            if kept is None or run_number(new.id) >= run_number(kept.id):
                self._runs[new.job_id] = new

    def of(self, job_id: JobId) -> Run | None:
        return self._runs.get(job_id)

    def known(self, job_id: JobId) -> bool:
        """Whether `of` is the whole truth for the job (its older runs have been read), or only what came since."""
        return job_id in self._read

    async def seed(self, scheduler: Scheduler, job_ids: Iterable[JobId]) -> None:
        """Read each job's last run from the store (one indexed query a job), for the jobs not read yet."""
        for job_id in job_ids:
            if job_id in self._read:
                continue
            found = await history.runs(scheduler, RunQuery(job_id=job_id, states=SHOWN, limit=1))
            kept = self._runs.get(job_id)
            if found and (kept is None or run_number(found[0].id) > run_number(kept.id)):  # else: seen since
                self._runs[job_id] = scheduler.ledger.get(found[0].id) or found[0]
            self._read.add(job_id)
