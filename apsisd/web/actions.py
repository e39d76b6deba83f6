"""What an operator may do to a run from its page, and when: each action's name, its words, the API request that
does it, the states that allow it. The page shows a button only where the state allows the action and the
caller's right does; the confirm page (JavaScript off) and the dialog (on) both end in the same operation the API
does, so the server's own checks hold either way.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agentd.types import RunId
from apsisd.runs.model import Run
from apsisd.runs.state import FINISHED, State
from apsisd.scheduler import operations
from apsisd.scheduler.service import Scheduler

Operation = Callable[[Scheduler, RunId, str], Awaitable[Run]]
NOT_STARTED = frozenset({State.SCHEDULED, State.WAITING})


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    name: str
    label: str
    confirm: str  # what the operator is asked, {run} for the run's id
    api: str  # the API path after /api/v1/runs/{run}/
    states: frozenset[State]
    operation: Operation
    danger: bool = False
    follow: bool = False  # the page goes to the run it makes (a rerun)


ACTIONS = {action.name: action for action in (
    Action(name="start", label="Start now", api="start", states=NOT_STARTED, operation=operations.start_now,
           confirm="Start run {run} now, without waiting for its time or its conditions?"),
    Action(name="skip", label="Skip", api="skip", states=NOT_STARTED, operation=operations.skip,
           confirm="Skip run {run}? It will never run."),
    Action(name="stop", label="Stop", api="stop", states=frozenset({State.RUNNING}), operation=operations.stop,
           danger=True, confirm="Stop run {run}? Its program is sent SIGTERM, then SIGKILL after its stop timeout."),
    Action(name="kill", label="Kill", api="signal?signal=SIGKILL", states=frozenset({State.RUNNING, State.STOPPING}),
           operation=lambda scheduler, run_id, who: operations.send_signal(scheduler, run_id, "SIGKILL", who),
           danger=True, confirm="Kill run {run}? Every process of its unit is sent SIGKILL at once."),
    Action(name="rerun", label="Run again", api="rerun", states=FINISHED, operation=operations.rerun, follow=True,
           confirm="Run {run}'s job again with the same args, now, as a new run?"),
)}
MARKS = sorted(FINISHED)  # a finished run may be marked as another finished state


def allowed(run: Run) -> list[Action]:
    """The actions the run's state allows, in the order the page shows them."""
    return [action for action in ACTIONS.values() if run.state in action.states]
