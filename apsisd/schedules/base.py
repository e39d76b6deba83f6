"""What every schedule type is: a pure, ordered source of due instants with their args.

A schedule never reads the clock and keeps no state between calls: times(t)
depends on t alone, so the scheduler can ask again from any instant (after a
restart, for a preview) and get the same answer.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from apsisd.calendars.calendar import Calendar
from apsisd.fields import Fields, boolean, string_map

EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    """One instant a schedule asks for a run, with the args it gives that run.

    `time` is aware and in UTC. `args` holds the schedule's auto args
    (date, time, daytime, schedule_time, ...) overlaid with its own `args`;
    the job keeps those it declares as params. `stop` is when the run is to
    be stopped, for schedules that say so.
    """

    time: datetime
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    stop: datetime | None = None


class Schedule(Protocol):
    """A parsed schedule of one type.

    times(start) yields every Due at or after `start` (aware), strictly
    increasing, no instant twice; it ends only if the schedule is finite,
    so callers bound it (by a horizon or a count).
    """

    type_name: ClassVar[str]

    @property
    def enabled(self) -> bool: ...

    @property
    def args(self) -> Mapping[str, str]:
        """The schedule's own args, which override its auto args."""
        ...

    def times(self, start: datetime) -> Iterator[Due]: ...

    def arg_names(self) -> frozenset[str]:
        """Every arg name a Due of this schedule carries (auto args and `args`)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What parsing a schedule may look up beyond its own mapping: the named calendars."""

    calendars: Mapping[str, Calendar] = field(default_factory=dict)


class ScheduleType(Protocol):
    """What the `apsis.schedules` entry points name: a class that parses one schedule mapping."""

    type_name: ClassVar[str]

    @classmethod
    def parse(cls, fields: Fields, context: Context) -> Schedule:
        """The schedule from its mapping; `type` is already read.

        Read every key through `fields`, call fields.done() (which raises all
        problems as InvalidFields) and only then build the schedule. Raise
        nothing but InvalidFields.
        """
        ...


def common(fields: Fields) -> dict[str, Any]:
    """The keys every schedule has, as constructor keywords: enabled and args."""
    return {"enabled": fields.take("enabled", boolean, True),
            "args": MappingProxyType(fields.take("args", string_map, {}))}


def stamp(moment: datetime) -> str:
    """How an instant appears in args: ISO 8601 with its UTC offset."""
    return moment.isoformat()
