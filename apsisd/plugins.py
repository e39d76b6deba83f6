"""Plug-in types of a job file's typed mappings (schedules, conditions, actions): found through entry points,
chosen by `type`.

The built-in types register through the same entry-point groups as any
other package's (see pyproject.toml), so a plug-in type is no different
from ours. What the three registries share lives here.
"""
from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, TypeVar

from apsisd.errors import ApsisError, invalid
from apsisd.fields import Fields, describe

T = TypeVar("T")


def load_types(group: str, what: str) -> dict[str, Any]:
    """Every installed type of entry-point `group`, by the name jobs use in `type:`.

    A type that cannot be imported is an installation error, said as such
    (naming the entry point), not a traceback from deep inside a job check.
    """
    types = {}
    for point in entry_points(group=group):
        try:
            types[point.name] = point.load()
        except Exception as exc:
            raise ApsisError(f"{what} type {point.name!r} ({point.value}, entry point group {group}) "
                             f"cannot be loaded: {exc}") from exc
    return types


def typed_fields(value: Any, what: str, types: Mapping[str, T]) -> tuple[Fields, T]:
    """The mapping's Fields (its `type` read) and the type it names.

    InvalidFields about the type alone when it is missing, not text or not
    installed: which other keys are allowed depends on the type.
    """
    known = f"known {what} types: {', '.join(sorted(types)) or 'none installed'}"
    if not isinstance(value, Mapping):
        raise invalid(f"each {what} must be a mapping with a type, not {describe(value)}; {known}")
    fields = Fields(value, what)
    name = fields.raw("type")
    if name is None:
        raise invalid(f"is required; {known}").under("type")
    if not isinstance(name, str):
        raise invalid(f"must be a {what} type name, not {describe(name)}; {known}").under("type")
    if name not in types:
        raise invalid(f"unknown {what} type {name!r}; {known}").under("type")
    return fields, types[name]
