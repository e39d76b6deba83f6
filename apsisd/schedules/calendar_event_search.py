"""The elapses of a calendar event, fast, and each the same as systemd's walk would give.

Replaying glibc's mktime() over a real zone costs tens of probes per step.
Where the zone keeps one UTC offset, the same walk is plain arithmetic;
and on a date the event allows, the next elapse is the next time of day it
allows. So each elapse is found the cheapest way that gives systemd's
answer: by counting, day after day, while the zone holds still; by the walk
on a fixed offset (checked afterwards against every instant it looked at)
to reach the next date the event allows; and near a change of offset by the
exact replay.
"""
from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apsisd.schedules.calendar_event import USEC, CalendarEvent
from apsisd.schedules.calendar_event_count import END_OF_DAY, time_counter
from apsisd.schedules.calendar_event_next import matches_date, next_elapse
from apsisd.schedules.glibc_time import DAY, FixedClock, ZoneClock, zone_state
from apsisd.schedules.zone_changes import zone_changes

# mktime() probes a second count clamped to 59, so up to a minute before an instant the walk touched.
SLACK = 120
HOUR = 3600
MONTH = 31 * DAY


class CalendarSearch:
    """The elapses of one event, in the zone it is read in (None: UTC, as timegm)."""

    def __init__(self, event: CalendarEvent, zone: ZoneInfo | None) -> None:
        self.event, self.zone = event, zone
        # mktime() starts probing from its previous answer. systemd-analyze runs a zone the expression names
        # in a fresh child process for every elapse (no previous answer); the local zone in its own process.
        self.clock = ZoneClock(zone) if zone is not None else None
        self.forked = event.timezone is not None
        self.counter = time_counter(event)

    def after(self, usec: int) -> int | None:
        """The first elapse strictly after `usec` (microseconds since 1970), or None when there is none."""
        if self.zone is None or self.clock is None:
            return next_elapse(self.event, FixedClock(0, 0), usec)
        if self.event.dst < 0:
            offset, isdst = zone_state(self.zone, (usec + 1) // USEC)
            fixed = FixedClock(offset, isdst)
            found = next_elapse(self.event, fixed, usec)
            changes = zone_changes(self.zone)
            if found is None or all(changes.steady(low - SLACK, high + SLACK, offset, isdst)
                                    for low, high in fixed.spans):
                self._remember(offset)
                return found
        if self.forked:
            self.clock.guess = 0
        return next_elapse(self.event, self.clock, usec)

    def _remember(self, offset: int) -> None:
        """Leave mktime's memory where the walk's last call, on this offset, would have left it."""
        if self.clock is not None and not self.forked:
            self.clock.guess = -offset

    def elapses(self, usec: int) -> Iterator[int]:
        """Every elapse after `usec`, in order, as systemd's timer would run them one after another.

        systemd never answers at or before the instant it was asked after
        (its walk refuses to go back); were it to, the search goes on a
        second later rather than repeat an instant or stop.
        """
        while True:
            usec = yield from self._counted(usec)
            found = self.after(usec)
            if found is None:
                return
            if found <= usec:
                usec += USEC
                continue
            yield found
            usec = found

    def _counted(self, usec: int) -> Generator[int, None, int]:
        """The elapses after `usec` found by counting, day after day; returns where the walk goes on from.

        Counts while each day is one the event allows and the zone holds
        still up to an hour past each answer (as far as the walk looks; for
        `~` days, to the month's end). A day whose times run out passes on to
        the next midnight, which the walk reaches cleanly.
        """
        if not self.counter.countable:
            return usec
        t, fraction = divmod(usec + 1, USEC)
        offset, isdst = (0, 0) if self.zone is None else zone_state(self.zone, t)
        day = (t + offset) // DAY * DAY - offset  # the instant the local day began, on this offset
        hour, rest = divmod(t - day, HOUR)
        minute, second = divmod(rest, 60)
        start = (hour, minute, second * USEC + fraction)
        since = t
        while True:
            reach = day + (MONTH if self.event.end_of_month else DAY) + HOUR + SLACK
            until = reach if self.zone is None else zone_changes(self.zone).steady_until(
                since - SLACK, reach, offset, isdst)
            date = datetime.fromtimestamp(day + offset, UTC)
            if (self.event.end_of_month and until < reach) or not matches_date(
                    self.event, date.year, date.month - 1, date.day):
                return usec
            while (now := self.counter.time_from(*start)) is not END_OF_DAY:
                if now is None or day + now[0] * HOUR + now[1] * 60 + HOUR + SLACK >= until:
                    return usec
                self._remember(offset)
                usec = (day + now[0] * HOUR + now[1] * 60) * USEC + now[2]
                yield usec
                start = (now[0], now[1], now[2] + 1)
            if until < day + DAY + HOUR + SLACK:
                return usec
            day += DAY
            since, usec, start = day, day * USEC - 1, (0, 0, 0)
