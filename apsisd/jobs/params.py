"""A job's params: the names of the args each of its runs has, and their match with its schedules.

A run is its job plus one string per param, so every enabled schedule must
give every param a value (through its auto args or its `args`). Args a
schedule gives that are not params are dropped, as in Apsis: that is how
auto args such as `date` reach only the jobs that ask for them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from apsisd.errors import InvalidFields, invalid
from apsisd.fields import describe
from apsisd.jobs.templates import HELPERS, RESERVED
from apsisd.schedules.base import Schedule

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)
TAKEN = (*RESERVED, *HELPERS)


def parse_params(value: Any) -> tuple[str, ...]:
    """Param names from a list, one string, or a mapping (its keys; the values are free, e.g. descriptions)."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        names, keyed = list(value), True
    elif isinstance(value, list):
        names, keyed = value, False
    elif isinstance(value, str):
        names, keyed = [value], None
    else:
        raise invalid(f"must be a list of names, one name, or a mapping whose keys are the names, not "
                      f"{describe(value)}")
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, name in enumerate(names):
        path: tuple[str | int, ...] = () if keyed is None else (name,) if keyed else (index,)
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            problems.append((path, f"{describe(name)} is not a param name; use letters, digits and _, "
                                   "not starting with a digit"))
        elif name in TAKEN:
            problems.append((path, f"{name!r} is reserved; a param may not be named {', '.join(TAKEN)}"))
        elif name in names[:index]:
            problems.append((path, f"param {name!r} is declared twice"))
    if problems:
        raise InvalidFields(problems)
    return tuple(names)


def check_schedules(params: Sequence[str], schedules: Sequence[Schedule], paths: Sequence[tuple[str | int, ...]],
                    ) -> None:
    """Every enabled schedule gives every param a value; InvalidFields at each schedule's path otherwise."""
    problems = []
    for schedule, path in zip(schedules, paths, strict=True):
        if not schedule.enabled:
            continue
        given = schedule.arg_names()
        missing = [name for name in params if name not in given]
        if missing:
            listed = ", ".join(repr(name) for name in missing)
            example = ", ".join(f"{name}: ..." for name in missing)
            problems.append((path, f"gives no value for {'param' if len(missing) == 1 else 'params'} {listed}; "
                                   f"add {'it' if len(missing) == 1 else 'them'} to the schedule's args "
                                   f"(args: {{{example}}}) or remove {'it' if len(missing) == 1 else 'them'} "
                                   "from params"))
    if problems:
        raise InvalidFields(problems)
