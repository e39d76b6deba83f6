"""Every UTC-offset change of a zone between two years, for the DST property tests.

zoneinfo does not expose its transition table, so this samples the offset
every 6 hours and bisects each change down to the second. No zone has two
changes within 6 hours that cancel out, so nothing is missed; the result is
cached, since several tests walk the same zones.
"""
from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

STEP = timedelta(hours=6)


@functools.cache
def transitions(zone: str, start_year: int, end_year: int) -> tuple[datetime, ...]:
    """The aware UTC instants at which `zone`'s UTC offset changes, from start_year to end_year inclusive.

    Each instant is the first one with the new offset.
    """
    tz = ZoneInfo(zone)
    moment = datetime(start_year, 1, 1, tzinfo=UTC)
    end = datetime(end_year + 1, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(tz).utcoffset()
    found = []
    while moment < end:
        later = moment + STEP
        later_offset = later.astimezone(tz).utcoffset()
        if later_offset != offset:
            found.append(_bisect(moment, later, tz))
            offset = later_offset
        moment = later
    return tuple(found)


def _bisect(low: datetime, high: datetime, tz: ZoneInfo) -> datetime:
    low_offset = low.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if middle.astimezone(tz).utcoffset() == low_offset:
            low = middle
        else:
            high = middle
    return high
