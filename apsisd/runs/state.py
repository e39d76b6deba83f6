"""A run's states and the transitions between them: the one table every state change is checked against.

Finished states are final except for `mark` (an operator correcting the
record: a finished run to another finished state), which is kept apart
from the table so that nothing but an explicit mark can rewrite history.
"""
from __future__ import annotations

import enum

from apsisd.errors import TransitionError


class State(enum.StrEnum):
    NEW = "new"
    SCHEDULED = "scheduled"
    WAITING = "waiting"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({State.SUCCESS, State.FAILURE, State.ERROR, State.SKIPPED})
# A unit may exist on the host for a run in these states: after a restart, they are matched to their units.
ON_HOST = frozenset({State.STARTING, State.RUNNING, State.STOPPING})
UNFINISHED = frozenset(State) - FINISHED

_ENDED = frozenset({State.SUCCESS, State.FAILURE, State.ERROR})
TRANSITIONS: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.SCHEDULED, State.ERROR, State.SKIPPED}),
    State.SCHEDULED: frozenset({State.WAITING, State.STARTING, State.SKIPPED, State.ERROR}),
    State.WAITING: frozenset({State.STARTING, State.SKIPPED, State.ERROR}),
    # A program that ends at once may be reported ended before it was seen running.
    State.STARTING: frozenset({State.RUNNING, State.STOPPING} | _ENDED),
    State.RUNNING: frozenset({State.STOPPING} | _ENDED),
    State.STOPPING: _ENDED,
    **{state: frozenset() for state in FINISHED},
}


def check_transition(run_id: str, old: State, new: State) -> None:
    """TransitionError unless the table allows `old` -> `new`."""
    if new not in TRANSITIONS[old]:
        raise TransitionError(run_id, old, new, [str(s) for s in sorted(TRANSITIONS[old])])


def check_mark(run_id: str, old: State, new: State) -> None:
    """TransitionError unless `old` and `new` are different finished states (what `mark` may do)."""
    if old not in FINISHED:
        raise TransitionError(run_id, old, new, [], why=f"only a finished run can be marked; this one is {old}")
    if new not in FINISHED or new is old:
        raise TransitionError(run_id, old, new, [str(s) for s in sorted(FINISHED - {old})])
