"""Counting a calendar event's times of day: what systemd's walk finds, without walking, where that is the same.

On a fixed UTC offset, once the walk stands on a date the event allows,
the next elapse is the next time of day the event allows, found field by
field as the walk does. Only where a value overflows its field does the walk
do something counting would not (it restarts just the field right below
the one that changed, so a minute past 23:59 leaves a remainder); there the
counter gives up and the caller walks.
"""
from __future__ import annotations

import functools

from apsisd.schedules.calendar_event import USEC, CalendarEvent, Chain

END_OF_DAY = (24, 0, 0)  # nothing left today: the walk goes on cleanly from the next midnight


@functools.lru_cache(maxsize=4096)
def time_counter(event: CalendarEvent) -> TimeCounter:
    """The counter of an event, shared: its tables are made once (jobs share a few expressions)."""
    return TimeCounter(event)


class TimeCounter:
    """The times of day one event allows, counted as systemd's walk takes them."""

    def __init__(self, event: CalendarEvent) -> None:
        self.event = event
        # A repetition of seconds that overflows the minute with a fraction makes systemd carry
        # that fraction into the next minute: such events (and forced tm_isdst) are walked.
        self.countable = event.dst < 0 and not any(
            item.repeat and item.stop < 0 and (item.start % USEC or item.repeat % USEC)
            for item in event.second or ())
        self.first_minute, self.first_second = _lowest(event.minute), _lowest(event.second)
        # The first allowed value from each whole value on, looked up rather than searched.
        self.hours = [_first(event.hour, value) for value in range(24)]
        self.minutes = [_first(event.minute, value) for value in range(61)]
        whole = all(item.start % USEC == 0 and item.repeat % USEC == 0 for item in event.second or ())
        self.seconds = [_first(event.second, value * USEC) for value in range(61)] if whole else None

    def time_from(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        """The first time of day from this one on (seconds in microseconds), END_OF_DAY, or None: walk."""
        while True:
            found = self.hours[hour]
            if found is None or found == 24:
                return END_OF_DAY  # hour 24 is the next midnight, whatever the date
            if found > 24:
                return None  # hh past 24 leaves hh-24 at a month's end
            if found > hour:
                return found, self.first_minute, self.first_second
            found = self.minutes[minute]
            if found is not None and found >= 60:
                if hour == 23 and found != 60:
                    return None  # the walk would stand on 00:MM of the next day
                found = None
            if found is None:
                hour, minute, second = hour + 1, 0, 0
                if hour == 24:
                    return END_OF_DAY
                continue
            if found > minute:
                return hour, found, self.first_second
            found = self._second(second)
            if found is not None and found >= 60 * USEC:
                if minute == 59 and found // USEC != 60:
                    return None  # the walk would stand on hh:00:SS of the next hour
                found = None
            if found is None:
                minute, second = minute + 1, 0
                continue
            return hour, minute, found

    def _second(self, value: int) -> int | None:
        """The first allowed second (in microseconds) from `value` on, None past the minute's last."""
        if value >= 60 * USEC:
            return None
        if self.seconds is not None:  # only whole seconds allowed: the first from the next whole second
            return self.seconds[-(-value // USEC)]
        return _first(self.event.second, value)


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
