"""Where a time zone's clocks change, and the two abbreviations glibc calls its tzname.

The on-calendar search runs on a fixed UTC offset where it can (plain
arithmetic, fast) and replays glibc's mktime() only where the zone changes
its offset near the instants it looked at; this module answers "does the
zone keep this offset over these instants?" from a per-year list of its
changes, found once by sampling and bisection.
"""
from __future__ import annotations

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apsisd.schedules.glibc_time import zone_state

# Samples six hours apart catch every change except a pair that cancels out
# within six hours; since 1970 the closest such pair in tzdata is a week apart.
STEP = 6 * 3600
WEEK = 7 * 86400
# No zone's offset ever jumped by more than a day and a few hours (Samoa went ahead 24 hours).
REACH = 27 * 3600
# glibc reads a zone's transitions from its file, which lists them up to 2037.
LAST_LISTED = 2**31 - 1
FIRST_SCANNED = int(datetime(1800, 1, 1, tzinfo=UTC).timestamp())


class ZoneChanges:
    """The instants at which one zone's (offset, tm_isdst) changes, computed a year at a time."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._years: dict[int, list[tuple[int, int]]] = {}

    def steady(self, start: int, end: int, offset: int, isdst: int) -> bool:
        """Whether the zone has (offset, isdst) at every instant from start through end, none of whose
        wall times also occurs at another instant (the clocks going back just outside the stretch)."""
        return self.steady_until(start, end, offset, isdst) >= end

    def steady_until(self, start: int, horizon: int, offset: int, isdst: int) -> int:
        """The last instant up to `horizon` through which the stretch from `start` is steady; start - 1 if none."""
        if zone_state(self.zone, start) != (offset, isdst):
            return start - 1
        until = horizon
        for year in range(_year_of(start - REACH), _year_of(horizon + REACH) + 1):
            for instant, repeated in self._year(year):
                if repeated and instant - repeated <= start < instant + repeated:
                    return start - 1
                if instant > start:
                    until = min(until, instant - repeated - 1)
        return until

    def _year(self, year: int) -> list[tuple[int, int]]:
        """Each change after 1 January `year` and up to the next: its first instant in the new state, and
        how many seconds of wall time it repeats (0 when the clocks go forward or only tm_isdst changes)."""
        if year not in self._years:
            begin = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
            end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
            changes: list[tuple[int, int]] = []
            before, state = begin, zone_state(self.zone, begin)
            for after in range(begin + STEP, end + STEP, STEP):
                after = min(after, end)
                new_state = zone_state(self.zone, after)
                if new_state != state:
                    instant = self._change(before, after, state)
                    now = zone_state(self.zone, instant)
                    changes.append((instant, max(0, state[0] - now[0])))
                    state = new_state
                before = after
            self._years[year] = changes
        return self._years[year]

    def _change(self, low: int, high: int, state: tuple[int, int]) -> int:
        while high - low > 1:
            middle = (low + high) // 2
            if zone_state(self.zone, middle) == state:
                low = middle
            else:
                high = middle
        return high


@functools.cache
def zone_changes(zone: ZoneInfo) -> ZoneChanges:
    """The shared change list of a zone (zones are few; their lists are kept for the process)."""
    return ZoneChanges(zone)


@functools.cache
def tznames(zone: ZoneInfo) -> tuple[str, str]:
    """glibc's tzname[0] and tzname[1] just after it loads `zone`: its last standard and daylight names.

    An OnCalendar expression may end in one of them (`EST`, `EDT` when the
    local zone is New York) to force tm_isdst; glibc takes them from the last
    transitions in the file that lead to a standard and a daylight type.
    """
    names: list[str | None] = [None, None]
    later = _type(zone, LAST_LISTED)
    t = LAST_LISTED - WEEK
    while t > FIRST_SCANNED and (names[0] is None or names[1] is None):
        earlier = _type(zone, t)
        if earlier != later:
            # `later` is the type some transition leads to.
            names[later[1]] = names[later[1]] or later[0]
            later = earlier
        t -= WEEK
    standard = names[0] or names[1] or later[0]
    return standard, names[1] or standard


def _type(zone: ZoneInfo, t: int) -> tuple[str, int]:
    moment = datetime.fromtimestamp(t, zone)
    return moment.tzname() or "", int(bool(moment.dst()))


def _year_of(t: int) -> int:
    return datetime.fromtimestamp(t, UTC).year
