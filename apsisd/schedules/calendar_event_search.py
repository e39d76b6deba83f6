"""The elapses of a calendar event, fast: systemd's walk on a fixed offset where the zone holds still.

Replaying glibc's mktime() over a real zone costs tens of probes per step;
on a stretch where the zone keeps one UTC offset the same walk is plain
arithmetic, and within one day the next elapse is just the next time of day
the event allows. So each elapse is found the cheapest way that is provably
the same as systemd's: the rest of a steady day by counting, the first of a
day by the walk on a fixed offset (checked afterwards against every instant
it looked at), and anywhere near a change of offset by the exact replay.
"""
from __future__ import annotations

from collections.abc import Generator, Iterator
from zoneinfo import ZoneInfo

from apsisd.schedules.calendar_event import USEC, CalendarEvent, Chain
from apsisd.schedules.calendar_event_next import next_elapse
from apsisd.schedules.glibc_time import DAY, FixedClock, ZoneClock, zone_state
from apsisd.schedules.zone_changes import zone_changes

MARGIN = 2 * DAY  # around every instant the walk touched, the zone must hold still this long
MONTH = 31 * DAY


class CalendarSearch:
    """The elapses of one event, in the zone it is read in (None: UTC, as timegm)."""

    def __init__(self, event: CalendarEvent, zone: ZoneInfo | None) -> None:
        self.event, self.zone = event, zone
        self.clock = ZoneClock(zone) if zone is not None else None
        # A repetition of seconds that overflows the minute with a fraction makes systemd carry
        # that fraction into the next minute; such events (and forced tm_isdst) always take the walk.
        self.countable = event.dst < 0 and not any(
            item.repeat and item.stop < 0 and (item.start % USEC or item.repeat % USEC)
            for item in event.second or ())

    def after(self, usec: int) -> int | None:
        """The first elapse strictly after `usec` (microseconds since 1970), or None when there is none."""
        if self.zone is None or self.clock is None:
            return next_elapse(self.event, FixedClock(0, 0), usec)
        if self.event.dst < 0:
            offset, isdst = zone_state(self.zone, (usec + 1) // USEC)
            fixed = FixedClock(offset, isdst)
            found = next_elapse(self.event, fixed, usec)
            changes = zone_changes(self.zone)
            if found is None or all(changes.steady(low - MARGIN, high + MARGIN, offset, isdst)
                                    for low, high in fixed.spans):
                return found
        return next_elapse(self.event, self.clock, usec)

    def elapses(self, usec: int) -> Iterator[int]:
        """Every elapse after `usec`, in order, as systemd's timer would run them one after another.

        systemd never answers at or before the instant it was asked after
        (its walk refuses to go back); were it to, the search would go on a
        second later rather than repeat an instant or stop.
        """
        while (found := self.after(usec)) is not None:
            if found <= usec:
                usec += USEC
                continue
            yield found
            usec = yield from self._rest_of_day(found)

    def _rest_of_day(self, usec: int) -> Generator[int, None, int]:
        """The elapses after the elapse `usec` on its local day, while counting gives systemd's answer.

        Returns where after() goes on from: the end of the day when the walk
        would leave it cleanly, else the last elapse counted. Counts nothing
        where the zone changes its offset within two days (for `~` days,
        before the month's end).
        """
        if not self.countable:
            return usec
        t, fraction = divmod(usec, USEC)
        offset, isdst = (0, 0) if self.zone is None else zone_state(self.zone, t)
        day = (t + offset) // DAY * DAY - offset  # the instant the local day began, on this offset
        if self.zone is not None:
            end = day + (MONTH if self.event.end_of_month else DAY)
            if not zone_changes(self.zone).steady(day - MARGIN, end + MARGIN, offset, isdst):
                return usec
        hour, rest = divmod(t - day, 3600)
        minute, second = divmod(rest, 60)
        now = (hour, minute, second * USEC + fraction)
        while True:
            later = self._next_time(*now)
            if later is END_OF_DAY:
                return (day + DAY) * USEC - 1
            if later is None:
                return (day + now[0] * 3600 + now[1] * 60) * USEC + now[2]
            now = later
            yield (day + now[0] * 3600 + now[1] * 60) * USEC + now[2]

    def _next_time(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        """The next time of day after this one, as systemd's walk finds it; END_OF_DAY, or None to walk.

        A value that overflows its field is normalised by systemd into the
        field above, and restarts only the field right below the one that
        changed: where that leaves a remainder (a minute past 23:59, a second
        past hh:59:59) the walk's own answer differs from counting, so it is left to the walk.
        """
        event = self.event
        found = _first(event.second, second + 1)
        if found is not None and found < 60 * USEC:
            return hour, minute, found
        if found is not None and minute == 59 and found // USEC != 60:
            return None
        first_second = _lowest(event.second)
        found = _first(event.minute, minute + 1) if minute < 59 else None
        if found is not None and found < 60:
            return hour, found, first_second
        if found is not None and hour == 23 and found != 60:
            return None
        found = _first(event.hour, hour + 1) if hour < 23 else None
        if found is None:
            return END_OF_DAY
        if found >= 24:
            return None
        return found, _lowest(event.minute), first_second


END_OF_DAY = (24, 0, 0)


def _lowest(chain: Chain) -> int:
    """The smallest value a chain allows (0 for `*`)."""
    return min((item.start for item in chain), default=0) if chain else 0


def _first(chain: Chain, value: int) -> int | None:
    """The smallest value of the chain from `value` on, even past the field's range (find_matching_component)."""
    if chain is None:
        return value
    best = None
    for item in chain:
        if item.start >= value:
            candidate = item.start
        elif item.repeat > 0:
            candidate = item.start + item.repeat * -((item.start - value) // item.repeat)
            if 0 <= item.stop < candidate:
                continue
        else:
            continue
        if best is None or candidate < best:
            best = candidate
    return best
