"""`dependency`: wait until a run of another job (or this one), with given args, is in given states.

    condition:
      type: dependency
      job_id: etl/extract
      args: {date: "{{ prev_business_day(date, 'Mon-Fri') }}"}   # optional
      states: [success]                                          # the default

Args follow Apsis (see jobs/target.py): written ones win, the others are
inherited from the waiting run. Any run in the history counts, finished
long ago or not (the store is asked): Apsis saw only the runs it held in
memory, so a dependency met last month waited forever after a restart.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from agentd.types import JobId
from apsisd.calendars.calendar import Calendar
from apsisd.conditions.base import READY, Jobs, RunView, Verdict, Wait
from apsisd.fields import Fields
from apsisd.jobs.run_states import states_parser
from apsisd.jobs.target import Target, instance
from apsisd.runs.model import Run
from apsisd.runs.state import State

_STATES = states_parser()
SUCCESS = frozenset({State.SUCCESS})


@dataclass(frozen=True, slots=True, kw_only=True)
class Dependency:
    type_name: ClassVar[str] = "dependency"
    target: Target
    states: frozenset[State] = SUCCESS

    @classmethod
    def parse(cls, fields: Fields) -> Dependency:
        target = Target.read(fields)
        states = fields.take("states", _STATES, SUCCESS)
        fields.done()
        return cls(target=target, states=states)

    def bind(self, run: Run, jobs: Jobs, calendars: Mapping[str, Calendar]) -> BoundDependency:
        job_id, args = self.target.for_run(run, jobs.params_of, calendars)
        return BoundDependency(job_id=job_id, args=MappingProxyType(args), states=self.states)


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundDependency:
    job_id: JobId
    args: Mapping[str, str]
    states: frozenset[State]

    def watches(self) -> frozenset[JobId]:
        return frozenset({self.job_id})

    def describe(self) -> str:
        states = " or ".join(state for state in State if state in self.states)
        return f"dependency {instance(self.job_id, self.args)} is {states}"

    async def check(self, run: Run, view: RunView) -> Verdict:
        found = await view.latest(self.job_id, self.args, self.states)
        return READY if found is not None else Wait(self.describe())
