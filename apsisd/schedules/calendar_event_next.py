"""When a calendar event next elapses: systemd 252's find_next(), step for step.

This is the code of systemd 252 as Debian 12 ships it (252.39), read from
its source and, where the stable branch added a check, from its binary: after
finding a candidate, it refuses one that lies before the start (on the wall
clock), tries an hour later and from then on keeps the tm_isdst mktime() gave.

systemd walks a struct tm field by field (year, month, day, weekday, hour,
minute, second), jumping each to its next matching value and letting
mktime() normalise what overflows; every quirk of the result (a time in a
spring-forward gap is skipped or moved, a repeated hour is taken once or
twice, an expression that names a tm_isdst the date lacks stops early) comes
from that walk over glibc's mktime(), so both are reproduced here rather than
re-derived. The clock (glibc_time) decides the zone.
"""
from __future__ import annotations

from typing import Protocol

from apsisd.schedules.calendar_event import MAX_YEAR, USEC, CalendarEvent, Chain
from apsisd.schedules.glibc_time import FixedClock, Tm

MAX_ITERATIONS = 1000  # systemd gives up (EDEADLK) after this many rounds


class Clock(Protocol):
    """localtime_r() and mktime() of one zone (glibc_time.FixedClock or ZoneClock)."""

    def localtime(self, t: int) -> Tm: ...

    def mktime(self, tm: Tm) -> int: ...


def next_elapse(event: CalendarEvent, clock: Clock, usec: int) -> int | None:
    """calendar_spec_next_usec_impl(): the first elapse after `usec`, None for "never" (or systemd's error)."""
    usec += 1
    t, tm_usec = divmod(usec, USEC)
    found = _find_next(event, clock, clock.localtime(t), tm_usec)
    if found is None:
        return None
    tm, tm_usec = found
    t = clock.mktime(tm)
    return None if t < 0 else t * USEC + tm_usec


def matches_date(event: CalendarEvent, year: int, mon: int, mday: int) -> bool:
    """Whether the walk would take this date as it stands (mon 0-based): year, month, day and weekday allowed.

    Days counted back from a month's end (`~`) are those of the date's month, as on a fixed offset.
    """
    clock = FixedClock(0, 0)
    day = Tm(year, mon, mday, 0, 0, 0)
    return (_matching(event, event.year, day, year, clock) == (0, year)
            and _matching(event, event.month, day, mon + 1, clock) == (0, mon + 1)
            and _matching(event, event.day, day, mday, clock, day=True) == (0, mday)
            and _matches_weekday(event.weekdays, day, clock))


def _find_next(event: CalendarEvent, clock: Clock, start: Tm, start_usec: int) -> tuple[Tm, int] | None:
    c, usec = start.copy(), start_usec
    keep_dst = False
    for _ in range(MAX_ITERATIONS):
        clock.mktime(c)
        if not keep_dst:
            c.isdst = event.dst

        found, c.year = _matching(event, event.year, c, c.year, clock)
        if found > 0:
            c.mon, c.mday, c.hour, c.min, c.sec, usec = 0, 1, 0, 0, 0, 0
        if found < 0 or _within_bounds(c, clock) <= 0:
            return None

        found, month = _matching(event, event.month, c, c.mon + 1, clock)
        c.mon = month - 1
        if found > 0:
            c.mday, c.hour, c.min, c.sec, usec = 1, 0, 0, 0, 0
        if found < 0 or (found := _within_bounds(c, clock)) < 0:
            c.year, c.mon, c.mday, c.hour, c.min, c.sec, usec = c.year + 1, 0, 1, 0, 0, 0, 0
            continue
        if found == 0:
            continue

        found, c.mday = _matching(event, event.day, c, c.mday, clock, day=True)
        if found > 0:
            c.hour, c.min, c.sec, usec = 0, 0, 0, 0
        if found < 0 or (found := _within_bounds(c, clock)) < 0:
            c.mon, c.mday, c.hour, c.min, c.sec, usec = c.mon + 1, 1, 0, 0, 0, 0
            continue
        if found == 0:
            continue

        if not _matches_weekday(event.weekdays, c, clock):
            c.mday, c.hour, c.min, c.sec, usec = c.mday + 1, 0, 0, 0, 0
            continue

        found, c.hour = _matching(event, event.hour, c, c.hour, clock)
        if found > 0:
            c.min, c.sec, usec = 0, 0, 0
        if found < 0 or (found := _within_bounds(c, clock)) < 0:
            c.mday, c.hour, c.min, c.sec, usec = c.mday + 1, 0, 0, 0, 0
            continue
        if found == 0:
            continue  # the hour may not exist today (clocks changed): start again from the normalised time

        found, c.min = _matching(event, event.minute, c, c.min, clock)
        if found > 0:
            c.sec, usec = 0, 0
        if found < 0 or (found := _within_bounds(c, clock)) < 0:
            c.hour, c.min, c.sec, usec = c.hour + 1, 0, 0, 0
            continue
        if found == 0:
            continue

        found, value = _matching(event, event.second, c, c.sec * USEC + usec, clock)
        c.sec, usec = divmod(value, USEC)
        if found < 0 or (found := _within_bounds(c, clock)) < 0:
            c.min, c.sec, usec = c.min + 1, 0, 0
            continue
        if found == 0:
            continue
        if (c.year, c.mon, c.mday, c.hour, c.min, c.sec, usec) >= (
                start.year, start.mon, start.mday, start.hour, start.min, start.sec, start_usec):
            return c, usec
        # Normalising moved the wall time back before the start (clocks fell back, or a skipped
        # hour was read the other way): systemd tries an hour later, keeping the tm_isdst it has.
        c.hour += 1
        keep_dst = True
    return None


def _matching(event: CalendarEvent, chain: Chain, tm: Tm, value: int, clock: Clock,
              day: bool = False) -> tuple[int, int]:
    """find_matching_component(): (-1, value) if nothing matches from `value` on, else (changed, earliest match)."""
    if chain is None:
        return 0, value
    best = -1
    for item in chain:
        start, stop = item.start, item.stop
        if day and event.end_of_month:
            start, stop = _end_of_month(tm, clock, start), _end_of_month(tm, clock, stop)
            if stop > 0:
                start, stop = stop, start
        if start >= value:
            if best < 0 or start < best:
                best = start
        elif item.repeat > 0:
            candidate = start + item.repeat * -((start - value) // item.repeat)
            if (best < 0 or candidate < best) and (stop < 0 or candidate <= stop):
                best = candidate
    if best < 0:
        return -1, value
    return int(best != value), best


def _end_of_month(tm: Tm, clock: Clock, day: int) -> int:
    """The day of tm's month that is `day` days back from its end (1: the last day); -1 if none."""
    probe = tm.copy()
    probe.mon += 1
    probe.mday = 1 - day
    if clock.mktime(probe) < 0 or probe.mon != tm.mon:
        return -1
    return probe.mday


def _within_bounds(tm: Tm, clock: Clock) -> int:
    """tm_within_bounds(): 1 if tm is a real local time; 0 after moving it to the normalised one; -1 to skip."""
    if tm.year > MAX_YEAR:
        return -1
    normal = tm.copy()
    if clock.mktime(normal) < 0:
        return -1
    # Normalisation carried into a larger field: restart the field below it.
    if normal.year != tm.year:
        compared, normal.mon = normal.year - tm.year, 0
    elif normal.mon != tm.mon:
        compared, normal.mday = normal.mon - tm.mon, 1
    elif normal.mday != tm.mday:
        compared, normal.hour = normal.mday - tm.mday, 0
    elif normal.hour != tm.hour:
        compared, normal.min = normal.hour - tm.hour, 0
    elif normal.min != tm.min:
        compared, normal.sec = normal.min - tm.min, 0
    else:
        compared = normal.sec - tm.sec
    if compared < 0:
        return -1  # systemd refuses to go backwards
    if compared > 0:
        tm.assign(normal)
        return 0
    return 1


def _matches_weekday(weekdays: int, tm: Tm, clock: Clock) -> bool:
    if weekdays < 0:
        return True
    probe = tm.copy()
    if clock.mktime(probe) < 0:
        return False
    return bool(weekdays & (1 << ((probe.wday - 1) % 7)))
