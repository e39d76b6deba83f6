"""Action types by name, from the `apsis.actions` entry points, and parsing one action with its `if`.

`if: {states: [...]}` is read here, for every type alike, and set on the
parsed action with dataclasses.replace: an action type is a frozen
dataclass with a `states` field. Without `if`, an action fires when its run
finishes (success, failure, error, skipped), never on the way: Apsis fired
such an action on every transition, so a `schedule` action without `if`
scheduled its job once per state its run went through.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from apsisd.actions.base import Action
from apsisd.errors import invalid
from apsisd.fields import Fields, describe
from apsisd.jobs.run_states import states_parser
from apsisd.plugins import load_types, typed_fields
from apsisd.runs.state import FINISHED, State

GROUP = "apsis.actions"
_STATES = states_parser()


@functools.cache
def action_types() -> Mapping[str, type[Action]]:
    """Every installed action type, by the name jobs use in `type:`."""
    return load_types(GROUP, "action")


def parse_action(value: Any) -> Action:
    """One action from its job-file mapping, `if` included; InvalidFields with paths under it."""
    fields, kind = typed_fields(value, "action", action_types())
    states = fields.take("if", _if_states, FINISHED)
    action = kind.parse(fields)
    fields.done()  # the type's parse has called it, unless it forgot: what `if` had wrong is never lost
    return dataclasses.replace(action, states=states)  # type: ignore[type-var]  # a dataclass, by contract


def _if_states(value: Any) -> frozenset[State]:
    """`if: {states: STATE or [STATE, ...]}`: the states whose entry fires the action."""
    if not isinstance(value, Mapping):
        raise invalid(f"must be a mapping such as {{states: [failure, error]}}, not {describe(value)}")
    fields = Fields(value, "if")
    states = fields.take("states", _STATES)
    fields.done()
    return states
