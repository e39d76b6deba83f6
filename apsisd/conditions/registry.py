"""Condition types by name, from the `apsis.conditions` entry points, and parsing one condition."""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from apsisd.conditions.base import Condition
from apsisd.plugins import load_types, typed_fields

GROUP = "apsis.conditions"


@functools.cache
def condition_types() -> Mapping[str, type[Condition]]:
    """Every installed condition type, by the name jobs use in `type:`."""
    return load_types(GROUP, "condition")


def parse_condition(value: Any) -> Condition:
    """One condition from its job-file mapping; InvalidFields with paths under it."""
    fields, kind = typed_fields(value, "condition", condition_types())
    condition = kind.parse(fields)
    fields.done()  # the type's parse has called it, unless it forgot: an unknown key is never let through
    return condition
