"""Cron schedules across every UTC-offset change 1970-2037 of 22 zones, against an oracle that walks UTC.

The oracle knows nothing of local-time arithmetic: it reads the wall clock
at every UTC quarter hour around the change (every offset of these zones is
a multiple of 15 minutes, which the test checks, so no matching local time
falls between two readings), and applies the policy to what it saw: each
occurrence of a matching wall time, and the matching wall times inside a
gap, which a shift moves to the instant of the change.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tz_transitions import transitions

import apsisd.schedules.cron as cron_module
from apsisd.fields import Fields
from apsisd.schedules.base import Context
from apsisd.schedules.cron import CronSchedule, default_policy
from apsisd.schedules.cron_expr import CronExpr, parse_expr
from apsisd.schedules.dst import DstPolicy, Fold, Gap

ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia",
         "America/Sao_Paulo", "Europe/Berlin", "Asia/Tehran", "America/Santiago", "Africa/Casablanca",
         "Pacific/Chatham", "America/St_Johns", "Europe/Moscow", "Asia/Gaza", "America/Havana", "Australia/Sydney",
         "Pacific/Auckland", "Asia/Jerusalem", "America/Los_Angeles", "Europe/Dublin", "Antarctica/Troll"]
QUARTER = timedelta(minutes=15)
EVERY_POLICY = [DstPolicy(gap, fold) for gap in Gap for fold in Fold]
# Zones without changes in the years still get a look around a few ordinary instants.
ORDINARY = [datetime(1970, 1, 1, 12, tzinfo=UTC), datetime(2026, 3, 8, 7, tzinfo=UTC),
            datetime(2037, 12, 31, 23, tzinfo=UTC)]


class Change:
    """One offset change of a zone, and the wall clock at every UTC quarter hour within `reach` of it."""

    def __init__(self, tz: ZoneInfo, instant: datetime, reach: timedelta) -> None:
        self.tz, self.instant = tz, instant
        self.before = (instant - timedelta(seconds=1)).astimezone(tz).utcoffset()
        self.after = instant.astimezone(tz).utcoffset()
        self.low = (instant - reach).replace(minute=0, second=0)
        count = -(-(instant + reach - self.low) // QUARTER)
        self.high = self.low + QUARTER * count
        self.readings = [(moment, moment.astimezone(tz)) for moment in (self.low + QUARTER * k for k in range(count))]
        offsets = {wall.utcoffset() for _, wall in self.readings}
        assert all(offset is not None and offset % QUARTER == timedelta(0) for offset in offsets)

    def first(self) -> datetime:
        """The first wall-clock time the change skips or repeats."""
        assert self.before is not None and self.after is not None
        return (self.instant + min(self.before, self.after)).replace(tzinfo=None)

    def skipped(self) -> Iterator[datetime]:
        """The wall-clock quarter hours the change skips (none when the clocks go back)."""
        assert self.before is not None and self.after is not None
        start = self.first()
        moment = start + (datetime.min - start) % QUARTER
        while moment < start + (self.after - self.before):
            yield moment
            moment += QUARTER

    def inside(self) -> tuple[int, int]:
        """(hour, minute) of a quarter hour in the middle of the skipped or repeated wall-clock span."""
        assert self.before is not None and self.after is not None
        first = self.first()
        span = abs(self.after - self.before)
        middle = first + span // 2
        middle -= (middle - datetime.min) % QUARTER
        return middle.hour, middle.minute


def matches(expr: CronExpr, wall: datetime) -> bool:
    return wall.minute in expr.minutes and wall.hour in expr.hours and expr.matches(wall.date())


def oracle(expr: CronExpr, change: Change, policy: DstPolicy) -> list[datetime]:
    seen: dict[datetime, list[datetime]] = {}
    for instant, wall in change.readings:
        if matches(expr, wall):
            seen.setdefault(wall.replace(tzinfo=None), []).append(instant)
    expected = set()
    for instants in seen.values():
        expected.update({Fold.FIRST: instants[:1], Fold.SECOND: instants[-1:], Fold.BOTH: instants}[policy.fold])
    if policy.gap is Gap.SHIFT and any(matches(expr, wall) for wall in change.skipped()):
        expected.add(change.instant)
    return sorted(moment for moment in expected if change.low <= moment < change.high)


class CountingResolve:
    def __init__(self) -> None:
        self.calls = 0
        self.real = cron_module.resolve

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.real(*args)


def check(text: str, tz: ZoneInfo, change: Change, policies: list[DstPolicy], counter: CountingResolve) -> None:
    expr = parse_expr(text)
    for policy in policies:
        schedule = CronSchedule.parse(Fields({"expr": text, "tz": tz.key, "dst": {"gap": policy.gap.value,
                                                                                "fold": policy.fold.value}}),
                                      Context())
        counter.calls = 0
        got = [due.time for due in itertools.takewhile(lambda due: due.time < change.high,
                                                           schedule.times(change.low))]
        where = f"{text!r} in {tz.key} around {change.instant} under {policy}"
        assert all(a < b for a, b in itertools.pairwise(got)), where
        assert got == oracle(expr, change, policy), where
        # Bounded work: only the (at most two) days the clocks change are resolved time by time.
        assert counter.calls <= 2 * len(expr.hours) * len(expr.minutes), where


@pytest.mark.parametrize("zone", ZONES)
def test_every_change(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingResolve()
    monkeypatch.setattr(cron_module, "resolve", counter)
    tz = ZoneInfo(zone)
    instants = transitions(zone, 1970, 2037) or tuple(ORDINARY)
    for instant in instants:
        near, day = Change(tz, instant, timedelta(hours=5)), Change(tz, instant, timedelta(hours=26))
        hour, minute = day.inside()
        check("0 * * * *", tz, near, EVERY_POLICY, counter)
        check("*/15 * * * *", tz, near, [default_policy(parse_expr("*/15 * * * *")), DstPolicy(Gap.SHIFT, Fold.FIRST)],
              counter)
        check(f"{minute} {hour} * * *", tz, day, EVERY_POLICY, counter)
        check("0 0 * * *", tz, day, EVERY_POLICY, counter)
