"""Schedule types by name, from the `apsis.schedules` entry points, and parsing one schedule.

The built-in types register through the same entry-point group as any other
package's (see pyproject.toml), so a plug-in type is no different from ours.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from apsisd.errors import invalid
from apsisd.fields import Fields, string
from apsisd.plugins import load_types
from apsisd.schedules.base import Context, Schedule, ScheduleType
from apsisd.schedules.stop import StopSchedule

GROUP = "apsis.schedules"


@functools.cache
def schedule_types() -> Mapping[str, type[ScheduleType]]:
    """Every installed schedule type, by the name jobs use in `type:` (loaded once)."""
    return load_types(GROUP, "schedule")


def parse_schedule(value: Any, context: Context) -> Schedule:
    """One schedule from its job-file mapping, including the `{start, stop}` form."""
    if isinstance(value, Mapping) and "start" in value and "type" not in value:
        return StopSchedule.parse(Fields(value, "a schedule"), context, parse_schedule)
    fields = Fields(value, "a schedule")
    name = fields.take("type", string, None)
    types = schedule_types()
    if name is None:
        if "type" not in fields and not fields.problems:
            raise invalid(f"a schedule needs a type; known types: {', '.join(sorted(types))}").under("type")
        fields.done()
    if name not in types:
        raise invalid(f"unknown schedule type {name!r}; known types: {', '.join(sorted(types))}").under("type")
    return types[name].parse(fields, context)
