"""glibc's localtime_r() and mktime() in one time zone, reproduced exactly, for the on-calendar search.

systemd computes calendar events on a C `struct tm` and lets mktime()
normalise it, so what it does with a local time the clocks skip or repeat is
whatever glibc's mktime() does: it probes with the UTC offset of its previous
call, prefers the daylight-saving reading of a skipped time, and, asked for a
tm_isdst the time does not have, borrows the offset of a nearby time that has
it. To give the instants systemd gives, on-calendar runs the same algorithm
(glibc 2.36, time/mktime.c) over Python's reading of the same tzdata.

A Tm is a struct tm with the full year and a 0-based month, as glibc has them.
"""
from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DAY = 86400
ZERO = timedelta(0)
# mktime's search for a neighbouring time with the asked-for tm_isdst (glibc 2.36).
STRIDE = 601200
DELTA_BOUND = 457243209 // 2 + STRIDE


class Tm:
    """A mutable struct tm; fields may be out of range until mktime() normalises them."""

    __slots__ = ("hour", "isdst", "mday", "min", "mon", "sec", "wday", "year")

    def __init__(self, year: int, mon: int, mday: int, hour: int, minute: int, sec: int,
                 isdst: int = -1, wday: int = 0) -> None:
        self.year, self.mon, self.mday = year, mon, mday
        self.hour, self.min, self.sec = hour, minute, sec
        self.isdst, self.wday = isdst, wday

    def copy(self) -> Tm:
        return Tm(self.year, self.mon, self.mday, self.hour, self.min, self.sec, self.isdst, self.wday)

    def assign(self, other: Tm) -> None:
        """Become `other` (systemd's `*tm = t`)."""
        self.year, self.mon, self.mday = other.year, other.mon, other.mday
        self.hour, self.min, self.sec = other.hour, other.min, other.sec
        self.isdst, self.wday = other.isdst, other.wday

    def set_local(self, local: int, isdst: int) -> None:
        """Become the normalised wall time `local` (seconds since 1970-01-01 00:00 on the wall)."""
        days, rest = divmod(local, DAY)
        day = date.fromordinal(days + EPOCH_ORDINAL)
        self.year, self.mon, self.mday = day.year, day.month - 1, day.day
        self.hour, rest = divmod(rest, 3600)
        self.min, self.sec = divmod(rest, 60)
        self.wday = (days + 4) % 7  # 1970-01-01 was a Thursday; 0 is Sunday
        self.isdst = isdst

    def __repr__(self) -> str:
        return (f"Tm({self.year}-{self.mon + 1:02}-{self.mday:02} {self.hour:02}:{self.min:02}:{self.sec:02}"
                f" isdst={self.isdst})")


def wall_seconds(year: int, mon: int, mday: int, hour: int, minute: int, sec: int) -> int:
    """Seconds since 1970-01-01 00:00 of a wall time whose fields may overflow, as mktime counts them."""
    days = _month_start(year + mon // 12, mon % 12) + mday - 1
    return days * DAY + hour * 3600 + minute * 60 + sec


@functools.lru_cache(maxsize=4096)
def _month_start(year: int, mon: int) -> int:
    """Days from 1970-01-01 to the first of a month (mon 0-based, in range)."""
    return date(year, mon + 1, 1).toordinal() - EPOCH_ORDINAL


class FixedClock:
    """localtime/mktime where the UTC offset never changes: timegm() when the offset is 0.

    Also the fast path of a zone, for stretches where its offset holds still:
    it remembers every instant it was asked about (`spans`), so the caller can
    check afterwards that the zone really kept this offset over all of them.
    """

    __slots__ = ("isdst", "offset", "spans")

    def __init__(self, offset: int, isdst: int) -> None:
        self.offset, self.isdst = offset, isdst
        self.spans: list[list[int]] = []

    def localtime(self, t: int) -> Tm:
        self._seen(t)
        tm = Tm(0, 0, 0, 0, 0, 0)
        tm.set_local(t + self.offset, self.isdst)
        return tm

    def mktime(self, tm: Tm) -> int:
        if (0 <= tm.sec < 60 and 0 <= tm.min < 60 and 0 <= tm.hour < 24 and 0 <= tm.mon < 12
                and 1 <= tm.mday <= 28):
            days = _month_start(tm.year, tm.mon) + tm.mday - 1
            tm.wday = (days + 4) % 7
            tm.isdst = self.isdst
            t = days * DAY + tm.hour * 3600 + tm.min * 60 + tm.sec - self.offset
        else:
            local = wall_seconds(tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec)
            tm.set_local(local, self.isdst)
            t = local - self.offset
        self._seen(t)
        return t

    def _seen(self, t: int) -> None:
        """Add t to the spans, each a [low, high] of instants no more than a day apart."""
        for span in reversed(self.spans):
            if span[0] - DAY <= t <= span[1] + DAY:
                if t < span[0]:
                    span[0] = t
                elif t > span[1]:
                    span[1] = t
                return
        self.spans.append([t, t])


class ZoneClock:
    """localtime_r/mktime in a zone with changing offsets, exactly as glibc 2.36 has them.

    `guess` is mktime's static memory: the UTC offset (as instant minus wall
    time) its previous call settled on, where its next call starts probing.
    """

    __slots__ = ("guess", "zone")

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.guess = 0

    def convert(self, t: int) -> tuple[int, int]:
        """The wall time (as wall_seconds) and tm_isdst at instant t."""
        offset, isdst = zone_state(self.zone, t)
        return t + offset, isdst

    def localtime(self, t: int) -> Tm:
        local, isdst = self.convert(t)
        tm = Tm(0, 0, 0, 0, 0, 0)
        tm.set_local(local, isdst)
        return tm

    def mktime(self, tm: Tm) -> int:
        """glibc's __mktime_internal with localtime as the conversion; -1 where it fails."""
        isdst, sec_requested = tm.isdst, tm.sec
        sec = min(max(sec_requested, 0), 59)
        wanted = wall_seconds(tm.year, tm.mon, tm.mday, tm.hour, tm.min, sec)
        t = t1 = t2 = wanted + self.guess
        dst2 = 0
        probes = 6
        while True:
            local, got_dst = self.convert(t)
            dt = wanted - local
            if dt == 0:
                break
            if t == t1 and t != t2 and (dst2 <= got_dst if isdst < 0 else (isdst != 0) != got_dst):
                # Oscillating around a skipped wall time: take this side of it.
                return self._found(tm, t, wanted, sec, sec_requested, local, got_dst)
            probes -= 1
            if probes == 0:
                return -1
            t1, t2, t, dst2 = t2, t, t + dt, got_dst
        if isdst >= 0 and (isdst != 0) != got_dst:
            t, local, got_dst = self._borrow_offset(t, wanted, isdst, got_dst)
        return self._found(tm, t, wanted, sec, sec_requested, local, got_dst)

    def _borrow_offset(self, t: int, wanted: int, isdst: int, got_dst: int) -> tuple[int, int, int]:
        """The wall time exists but with the other tm_isdst: use the offset of a nearby time that has it."""
        for delta in range(STRIDE, DELTA_BOUND, STRIDE):
            for probe in (t - delta, t + delta):
                local, probe_dst = self.convert(probe)
                if (isdst != 0) == probe_dst:
                    moved = probe + wanted - local
                    local, moved_dst = self.convert(moved)
                    return moved, local, moved_dst
        moved = t + 3600 * ((isdst == 0) - (got_dst == 0))
        local, moved_dst = self.convert(moved)
        return moved, local, moved_dst

    def _found(self, tm: Tm, t: int, wanted: int, sec: int, sec_requested: int, local: int, isdst: int) -> int:
        self.guess = t - wanted
        if sec_requested != local % 60:
            t += sec_requested - sec
            local, isdst = self.convert(t)
        tm.set_local(local, isdst)
        return t


def zone_state(zone: ZoneInfo, t: int) -> tuple[int, int]:
    """The UTC offset in seconds and tm_isdst of `zone` at instant t."""
    moment = datetime.fromtimestamp(t, zone)
    offset = moment.utcoffset() or ZERO
    return offset.days * DAY + offset.seconds, int(bool(moment.dst()))
