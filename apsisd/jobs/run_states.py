"""Run states as a job file names them: `states: success` or `states: [success, failure]`.

`new` is never offered: a run is created in it and never enters it, so an
action or a condition waiting on it would never fire.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from apsisd.errors import invalid
from apsisd.fields import describe, each
from apsisd.runs.state import State

ENTERED = frozenset(State) - {State.NEW}


def _ordered(states: Collection[State]) -> str:
    return ", ".join(state for state in State if state in states)


def state_parser(allowed: Collection[State] = ENTERED) -> Callable[[Any], State]:
    """A parser for one state name among `allowed`."""
    names = _ordered(allowed)

    def parse(value: Any) -> State:
        try:
            state = State(value) if isinstance(value, str) else None
        except ValueError:
            state = None
        if state is not None and state in allowed:
            return state
        raise invalid(f"must be one of {names}, not {describe(value)}")

    return parse


def states_parser(allowed: Collection[State] = ENTERED) -> Callable[[Any], frozenset[State]]:
    """A parser for one state name or a non-empty list of them, among `allowed`."""
    items = each(state_parser(allowed))

    def parse(value: Any) -> frozenset[State]:
        if value == []:
            raise invalid(f"must name at least one state: {_ordered(allowed)}")
        return frozenset(items(value))

    return parse
