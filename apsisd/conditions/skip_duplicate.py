"""`skip_duplicate`: end a run at once when another run of the same job and args is already under way.

    condition:
      type: skip_duplicate
      check_states: [waiting, starting, running, stopping]   # the default
      target_state: skipped                                  # or error

It never waits. A run on its host (starting, running, stopping) or in a
finished state named in `check_states` is a duplicate whenever it began;
a run still waiting (or scheduled) only when it is older than this one, so
of runs that wait together the oldest goes on and the newer ones end.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from agentd.types import JobId
from apsisd.calendars.calendar import Calendar
from apsisd.conditions.base import READY, Jobs, RunView, Settle, Verdict
from apsisd.fields import Fields
from apsisd.jobs.run_states import state_parser, states_parser
from apsisd.runs.model import Run, run_number
from apsisd.runs.state import FINISHED, ON_HOST, State

CHECKED = frozenset({State.WAITING, *ON_HOST})
# A waiting run can only be skipped or errored (a finished-looking success would be a lie, and the state table
# forbids it: Apsis let a condition ask for it and the run was stuck in waiting).
TARGETS = (State.SKIPPED, State.ERROR)
_CHECK_STATES = states_parser()
_TARGET_STATE = state_parser(TARGETS)


@dataclass(frozen=True, slots=True, kw_only=True)
class SkipDuplicate:
    """Both the condition and its bound form: nothing in it depends on the run."""

    type_name: ClassVar[str] = "skip_duplicate"
    check_states: frozenset[State] = CHECKED
    target_state: State = State.SKIPPED
    job_id: JobId | None = None  # set by bind: what watches() names

    @classmethod
    def parse(cls, fields: Fields) -> SkipDuplicate:
        parsed = cls(check_states=fields.take("check_states", _CHECK_STATES, CHECKED),
                     target_state=fields.take("target_state", _TARGET_STATE, State.SKIPPED))
        fields.done()
        return parsed

    def bind(self, run: Run, jobs: Jobs, calendars: Mapping[str, Calendar]) -> SkipDuplicate:
        return SkipDuplicate(check_states=self.check_states, target_state=self.target_state, job_id=run.job_id)

    def watches(self) -> frozenset[JobId]:
        return frozenset() if self.job_id is None else frozenset({self.job_id})

    def describe(self) -> str:
        states = ", ".join(state for state in State if state in self.check_states)
        return f"no other run of the same job and args {states}"

    async def check(self, run: Run, view: RunView) -> Verdict:
        number = run_number(run.id)
        duplicates = [other for other in view.active(run.job_id)
                      if other.id != run.id and other.state in self.check_states and other.args == run.args
                      and (other.state in ON_HOST or run_number(other.id) < number)]
        if duplicates:
            first = min(duplicates, key=lambda other: run_number(other.id))
            return self._settle(first)
        finished = self.check_states & FINISHED
        if finished:
            found = await view.latest(run.job_id, run.args, finished)
            if found is not None and found.id != run.id:
                return self._settle(found)
        return READY

    def _settle(self, other: Run) -> Settle:
        return Settle(self.target_state, f"duplicate of {other.id}, which is {other.state}")
