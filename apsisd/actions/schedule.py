"""`schedule`: when a run enters one of the action's states, create a run of another job, due now.

    action:
      type: schedule
      job_id: reports/publish
      args: {date: "{{ date }}"}    # optional; templated with the triggering run's args
      if: {states: [success]}       # default: any finished state

The new run's args follow Apsis (see jobs/target.py): written ones win, the
others are inherited from the triggering run. `successors: [job, ...]` is
this action on success. Whatever happens is written in the triggering run's
log; its state never changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from apsisd.actions.base import ActionContext
from apsisd.errors import ApsisError, InvalidFields
from apsisd.fields import Fields
from apsisd.jobs.rendering import in_words
from apsisd.jobs.target import Target, instance
from apsisd.runs.model import Run
from apsisd.runs.state import FINISHED, State


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleAction:
    type_name: ClassVar[str] = "schedule"
    target: Target
    states: frozenset[State] = FINISHED

    @classmethod
    def parse(cls, fields: Fields) -> ScheduleAction:
        target = Target.read(fields)
        fields.done()
        return cls(target=target)

    async def __call__(self, run: Run, context: ActionContext) -> None:
        try:
            job_id, args = self.target.for_run(run, context.params_of, context.calendars)
        except InvalidFields as exc:
            await context.note(run.id, f"schedule action: cannot schedule {self.target.job_id}: {in_words(exc)}")
            return
        try:
            made = await context.schedule(job_id, args, source=run)
        except ApsisError as exc:
            await context.note(run.id, f"schedule action: cannot schedule {instance(job_id, args)}: {exc}")
            return
        await context.note(run.id, f"scheduled {instance(job_id, args)} as {made.id}")
