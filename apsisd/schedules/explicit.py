"""The `explicit` schedule: a fixed list of instants, each written with its UTC offset."""
from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from apsisd.errors import invalid
from apsisd.fields import Fields, each
from apsisd.quantities import parse_instant
from apsisd.schedules.base import EMPTY, Context, Due, common, stamp

AUTO_ARGS = frozenset({"time", "schedule_time"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ExplicitSchedule:
    type_name: ClassVar[str] = "explicit"

    instants: tuple[datetime, ...]  # UTC, sorted, each once
    enabled: bool = True
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)

    @classmethod
    def parse(cls, fields: Fields, context: Context) -> ExplicitSchedule:
        instants = fields.take("times", _instants)
        keywords = common(fields)
        fields.done()
        return cls(instants=instants, **keywords)

    def arg_names(self) -> frozenset[str]:
        return AUTO_ARGS | frozenset(self.args)

    def times(self, start: datetime) -> Iterator[Due]:
        for moment in self.instants[bisect.bisect_left(self.instants, start):]:
            text = stamp(moment)
            yield Due(time=moment, args={"time": text, "schedule_time": text, **self.args})


def _instants(value: Any) -> tuple[datetime, ...]:
    instants = each(parse_instant)(value)
    if not instants:
        raise invalid("must list at least one time, such as 2026-01-31T09:30:00+01:00")
    return tuple(sorted(set(instants)))
