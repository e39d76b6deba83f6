"""Turning a local wall time into instants when the zone's clocks jump.

A local time may not exist (the clocks spring forward over it) or exist
twice (they fall back over it). Every zone-aware schedule resolves its local
times here, under a policy it documents and a job may override with
`dst: {gap: shift|skip, fold: first|second|both}`.
"""
from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from apsisd.errors import invalid
from apsisd.fields import Fields


class Gap(enum.StrEnum):
    """What to do with a local time the clocks skip."""

    SHIFT = "shift"  # run at the first instant after the gap, as cron does
    SKIP = "skip"  # no run for it


class Fold(enum.StrEnum):
    """Which of the two instants of a local time that occurs twice."""

    FIRST = "first"
    SECOND = "second"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class DstPolicy:
    gap: Gap = Gap.SHIFT
    fold: Fold = Fold.FIRST


def parse_policy(default: DstPolicy) -> Any:
    """A parser for a `dst:` mapping whose missing keys keep the schedule type's default."""

    def parse(value: Any) -> DstPolicy:
        fields = Fields(value, "dst")
        gap = fields.take("gap", _choice(Gap), default.gap)
        fold = fields.take("fold", _choice(Fold), default.fold)
        fields.done()
        return DstPolicy(gap, fold)

    return parse


def _choice(kind: type[Gap] | type[Fold]) -> Any:


    def parse(value: Any) -> Gap | Fold:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise invalid(f"{value!r} is not one of {allowed}") from None

    return parse


def resolve(local: datetime, zone: ZoneInfo, policy: DstPolicy) -> tuple[datetime, ...]:
    """The UTC instants, in order, that the naive wall time `local` in `zone` stands for.

    Zero (a skipped gap), one, or two (a fold with `both`).
    """
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    first_utc, second_utc = first.astimezone(UTC), second.astimezone(UTC)
    if first_utc == second_utc:
        return (first_utc,)
    if _exists(first_utc, local, zone):
        # Both readings exist: the wall time occurs twice.
        if policy.fold is Fold.FIRST:
            return (first_utc,)
        if policy.fold is Fold.SECOND:
            return (second_utc,)
        return (first_utc, second_utc)
    if policy.gap is Gap.SKIP:
        return ()
    return (gap_end(min(first_utc, second_utc), max(first_utc, second_utc), zone),)


def resolve_on(day: date, daytime: time, zone: ZoneInfo, policy: DstPolicy) -> tuple[datetime, ...]:
    """resolve() of `daytime` on `day`: on a day when the zone keeps one offset, a single addition.

    Date-by-date schedules resolve a few wall times per date, and the clocks
    change on two dates a year: resolve() itself costs ten times as much.
    """
    steady = steady_day(zone, day)
    if steady is not None:
        return (steady.midnight + since_midnight(daytime),)
    return resolve(datetime.combine(day, daytime), zone, policy)


@functools.lru_cache(maxsize=1024)
def since_midnight(daytime: time) -> timedelta:
    """A time of day as the time since midnight (a wall clock's, on a day without a change)."""
    return datetime.combine(date.min, daytime) - datetime.min


def exists(local: datetime, zone: ZoneInfo) -> bool:
    """Whether the wall time `local` occurs at all in `zone`."""
    return _exists(local.replace(tzinfo=zone).astimezone(UTC), local, zone)


def _exists(instant: datetime, local: datetime, zone: ZoneInfo) -> bool:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0) == local.replace(fold=0)


def gap_end(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jump, between two UTC instants with different offsets in `zone`.

    Transitions fall on whole seconds; a bisection finds one in under 20 steps
    even for Pacific/Apia's skipped day.
    """
    low_offset = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == low_offset:
            low = middle
        else:
            high = middle
    return high


class SteadyDay(NamedTuple):
    """A local day with one UTC offset throughout: the instant of its midnight, its date and offset as text."""

    midnight: datetime
    date: str
    offset: str


@functools.lru_cache(maxsize=4096)
def steady_day(zone: ZoneInfo, day: date) -> SteadyDay | None:
    """`day` in `zone` when its UTC offset holds all day, or None on a day the clocks change.

    Both midnights must exist once and share the offset; tzdata never
    changes a zone's offset twice within a day, so nothing can hide between
    them. Cached: every schedule in a zone asks about the same few days.
    """
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    offset = midnight.utcoffset()
    end = midnight + timedelta(days=1)
    for wall in (midnight.replace(fold=1), end, end.replace(fold=1)):
        if wall.utcoffset() != offset:
            return None
    assert offset is not None
    return SteadyDay((midnight.replace(tzinfo=UTC) - offset), day.isoformat(), midnight.isoformat()[19:])
