"""What every schedule type is: a pure, ordered source of due instants with their args.

A schedule never reads the clock and keeps no state between calls: times(t)
depends on t alone, so the scheduler can ask again from any instant (after a
restart, for a preview) and get the same answer.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple, Protocol, cast

from apsisd.calendars.calendar import Calendar
from apsisd.fields import Fields, boolean, string_map

EMPTY: Mapping[str, str] = MappingProxyType({})


class Due(NamedTuple):
    """One instant a schedule asks for a run, with the args it gives that run.

    `time` is aware and in UTC. `args` holds the schedule's auto args
    (date, time, daytime, schedule_time, ...) overlaid with its own `args`;
    the job keeps those it declares as params. `stop` is when the run is to
    be stopped, for schedules that say so.

    A NamedTuple rather than a frozen dataclass (STYLE.md's habit 3) on
    purpose: a 24-hour expansion makes millions of them, and a frozen
    dataclass's __init__ costs three times as much. Build it with keywords.
    """

    time: datetime
    args: Mapping[str, str] = EMPTY
    stop: datetime | None = None


# Due((time, args, stop)) without the generated __new__'s argument handling: for the loops that make millions of
# Dues (a third of the cost of Due(time, args), half of Due(time=..., args=...)).
make_due = cast(Callable[[tuple[datetime, Mapping[str, str], "datetime | None"]], Due],
                functools.partial(tuple.__new__, Due))


class ArgSource(Protocol):
    """A schedule that makes its auto args one at a time, when read (see LazyArgs)."""

    auto_names: ClassVar[frozenset[str]]

    @property
    def args(self) -> Mapping[str, str]: ...

    def auto_arg(self, at: Any, name: str) -> str:
        """Auto arg `name` of the run described by `at` (whatever the schedule put there)."""
        ...


class RunSource(ArgSource, Protocol):
    """An ArgSource whose runs can be had without Dues: what Job.due_between reads, a step fewer per run.

    times() is then lazy_times(): the same runs, each as a Due whose args
    are LazyArgs over `at`.
    """

    def runs(self, start: datetime) -> Iterator[tuple[Any, ...]]:
        """Every run at or after `start`, as times() gives them: the `at` auto_arg() takes, a tuple led by the
        run's instant (one tuple per run, not two: a horizon is millions of runs)."""
        ...


def lazy_times(source: RunSource, start: datetime) -> Iterator[Due]:
    """times() of a RunSource: its runs as Dues with LazyArgs (no `stop`)."""
    for at in source.runs(start):
        yield make_due((at[0], LazyArgs(source, at), None))


class LazyArgs(Mapping[str, str]):
    """A Due's args, each made only when read.

    Formatting auto args costs more than finding the run itself, and most
    jobs keep one of them or none: a 24-hour expansion of 100,000 jobs makes
    millions of Dues, so a Due holds its schedule and what describes the run
    (`at`), and asks the schedule for an arg when it is read. The schedule's
    own `args` win over its auto args. A job that keeps several args reads
    `source` and `at` to make them at once (Job.due_between).
    """

    __slots__ = ("at", "source")

    def __init__(self, source: ArgSource, at: Any) -> None:
        self.source = source
        self.at = at

    def __getitem__(self, name: str) -> str:
        own = self.source.args
        if name in own:
            return own[name]
        if name in self.source.auto_names:
            return self.source.auto_arg(self.at, name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.source.auto_names | self.source.args.keys())

    def __len__(self) -> int:
        return len(self.source.auto_names | self.source.args.keys())

    def __repr__(self) -> str:
        return f"LazyArgs({dict(self)!r})"


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
