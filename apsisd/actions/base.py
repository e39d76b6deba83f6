"""The Action protocol: what happens when a run enters a state, and what an action may ask the daemon to do.

Actions run after the transition is committed, each in its own task; an
action failing is logged on the run and never changes the run's state.
They act through an ActionContext, so the actions themselves hold no
connections and are tested with a fake one.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from agentd.types import JobId, RunId
from apsisd.calendars.calendar import Calendar
from apsisd.fields import Fields
from apsisd.runs.model import Run
from apsisd.runs.state import State


class ActionContext(Protocol):
    calendars: Mapping[str, Calendar]

    def params_of(self, job_id: JobId) -> tuple[str, ...] | None:
        """The job's params; None when no such job is loaded."""
        ...

    async def schedule(self, job_id: JobId, args: Mapping[str, str], *, source: Run) -> Run:
        """Create a run of the job with these args, due now, made by `source`'s action; ApsisError if refused.

        The run is committed with the mark that this action has run, so the
        next start after a crash does not run it again: an action schedules
        once at most, as the last thing it does that must not be repeated.
        """
        ...

    async def note(self, run_id: RunId, message: str) -> None:
        """Add a line to the run's log."""
        ...

    async def post_json(self, url: str, body: Any, *, headers: Mapping[str, str]) -> int:
        """POST `body` as JSON; the HTTP status; OSError when it could not be sent (callers bound it in time)."""
        ...

    def run_json(self, run: Run) -> dict[str, Any]:
        """The run as the API shows it (the one JSON shape of a run)."""
        ...


class Action(Protocol):
    """An action as written in a job file; types come from the `apsis.actions` entry points."""

    type_name: ClassVar[str]
    states: frozenset[State]  # fires when a run enters one of these (`if: {states: [...]}`; default: finished)

    @classmethod
    def parse(cls, fields: Fields) -> Action:
        """From the action's mapping (less `type` and `if`); read every key through `fields`, then done()."""
        ...

    async def __call__(self, run: Run, context: ActionContext) -> None:
        """Do it; an ApsisError's message is logged on the run, anything else too, with a warning."""
        ...
