"""A parsed systemd calendar event (OnCalendar=): its components, normalised and checked as systemd 252 does.

Each date and time field is a chain of components (`start`, `start..stop`,
`start/repeat`, `start..stop/repeat`); no chain means `*`. Seconds are kept
in microseconds, as systemd keeps them, so `5.25` is 5250000. The
normalisation (two-digit years, ranges trimmed to their last repetition,
sorting, dropping duplicates) and the range checks are systemd's; str() is
systemd's "Normalized form", which the tests compare with systemd-analyze.
"""
from __future__ import annotations

from dataclasses import dataclass, field

USEC = 1_000_000
ALL_WEEKDAYS = 127
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MIN_YEAR, MAX_YEAR = 1970, 2199


@dataclass(frozen=True, slots=True, order=True)
class Component:
    """One item of a chain: start, or start..stop, each optionally every `repeat` (0: no repeat)."""

    start: int
    stop: int = -1
    repeat: int = 0


Chain = tuple[Component, ...] | None  # None is `*`


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """How one chain is named in messages, and the values systemd allows in it."""

    name: str
    low: int
    high: int
    width: int = 2
    usec: bool = False


YEAR = Field(name="year", low=MIN_YEAR, high=MAX_YEAR, width=4)
MONTH = Field(name="month", low=1, high=12)
DAY = Field(name="day", low=1, high=31)
HOUR = Field(name="hour", low=0, high=23)
MINUTE = Field(name="minute", low=0, high=59)
SECOND = Field(name="second", low=0, high=60 * USEC - 1, usec=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarEvent:
    """What an OnCalendar= expression means; build it with normalized()."""

    weekdays: int = -1  # bit 0 Monday .. bit 6 Sunday; -1 any day
    year: Chain = None
    month: Chain = None
    day: Chain = None
    hour: Chain = None
    minute: Chain = None
    second: Chain = None
    end_of_month: bool = False  # day counts back from the month's last day (`~`)
    utc: bool = False
    timezone: str | None = None  # an IANA zone named in the expression
    dst: int = -1  # 0 or 1 when the expression ends in a local zone abbreviation
    dst_name: str = field(default="", compare=False)

    def normalized(self) -> CalendarEvent:
        """systemd's calendar_spec_normalize(): the same event, in its one canonical shape."""
        weekdays = -1 if self.weekdays <= 0 or self.weekdays >= ALL_WEEKDAYS else self.weekdays
        return CalendarEvent(
            weekdays=weekdays, year=_normalize(_full_years(self.year)), month=_normalize(self.month),
            day=_normalize(self.day), hour=_normalize(self.hour), minute=_normalize(self.minute),
            second=_normalize(self.second), end_of_month=self.end_of_month and self.day is not None,
            utc=self.utc or self.timezone == "UTC", timezone=None if self.timezone == "UTC" else self.timezone,
            dst=self.dst, dst_name=self.dst_name)

    def problems(self) -> list[str]:
        """What systemd's calendar_spec_valid() refuses, each said for an operator; empty when valid."""
        found: list[str] = []
        for chain, where in ((self.year, YEAR), (self.month, MONTH), (self.day, DAY), (self.hour, HOUR),
                             (self.minute, MINUTE), (self.second, SECOND)):
            for index, item in enumerate(chain or ()):
                # systemd takes 3 days off the top of a `~` day range once per item, cumulatively.
                shrink = 3 * (index + 1) if self.end_of_month and where is DAY else 0
                problem = _problem(item, where, shrink)
                if problem:
                    found.append(problem)
        return found

    def __str__(self) -> str:
        text = f"{_format_weekdays(self.weekdays)} " if 0 < self.weekdays < ALL_WEEKDAYS else ""
        text += (f"{_format_chain(self.year, YEAR)}-{_format_chain(self.month, MONTH)}"
                 f"{'~' if self.end_of_month else '-'}{_format_chain(self.day, DAY)} "
                 f"{_format_chain(self.hour, HOUR)}:{_format_chain(self.minute, MINUTE)}:"
                 f"{_format_chain(self.second, SECOND)}")
        if self.utc:
            return text + " UTC"
        if self.timezone:
            return f"{text} {self.timezone}"
        return f"{text} {self.dst_name}" if self.dst >= 0 and self.dst_name else text


def _full_years(chain: Chain) -> Chain:
    """12 is 2012 and 89 is 1989, as in systemd."""

    def full(year: int) -> int:
        return year + 2000 if 0 <= year < 70 else year + 1900 if 70 <= year < 100 else year

    return None if chain is None else tuple(Component(full(c.start), full(c.stop), c.repeat) for c in chain)


def _normalize(chain: Chain) -> Chain:
    """Ranges end on their last repetition; a range that cannot repeat is its start; sorted, no duplicates."""
    if chain is None:
        return None
    items = set()
    for item in chain:
        start, stop, repeat = item.start, item.stop, item.repeat
        if stop > start and repeat > 0:
            stop -= (stop - start) % repeat
        if (stop > start and repeat > 0 and start + repeat > stop) or start == stop:
            stop, repeat = -1, 0
        items.add(Component(start, stop, repeat))
    return tuple(sorted(items))


def _problem(item: Component, where: Field, shrink: int) -> str:
    """systemd's chain_valid() for one component, as a message ("" when valid); shrink > 0 for `~` days."""
    low, high = where.low, where.high - shrink
    end_of_month = shrink > 0
    text = ("~" if end_of_month else "") + _format_item(item, where)
    allowed = f"{_format_value(low, where)}..{_format_value(high, where)}"
    if end_of_month:
        allowed = f"~{low:02}..~{high:02} here (28 days back at most, 3 fewer for each further item of the list)"
    if not low <= item.start <= high or (item.stop >= 0 and not low <= item.stop <= high):
        return f"{where.name} {text} is out of range; {where.name}s go {allowed}"
    if item.repeat > high - low:
        return f"{where.name} {text} repeats less than once within {allowed}"
    if item.stop >= 0 and item.start + item.repeat > item.stop:
        return f"{where.name} {text} is an empty range: it must go from low to high"
    if item.stop < 0 and end_of_month and item.start - item.repeat < low:
        return f"{where.name} {text} repeats past the month's last day"
    if item.stop < 0 and not end_of_month and item.start + item.repeat > high:
        return f"{where.name} {text} never repeats within {allowed}"
    return ""


def _format_value(value: int, where: Field) -> str:
    if not where.usec:
        return f"{value:0{where.width}}"
    whole, fraction = divmod(value, USEC)
    return f"{whole:0{where.width}}" + (f".{fraction:06}" if fraction else "")


def _format_item(item: Component, where: Field) -> str:
    """One component as systemd's format_chain() writes it."""
    text = _format_value(item.start, where)
    if item.stop > 0:
        text += ".." + _format_value(item.stop, where)
    unit = USEC if where.usec else 1
    if item.repeat > 0 and not (item.stop > 0 and item.repeat == unit):
        whole, fraction = divmod(item.repeat, unit)
        text += f"/{whole}" + (f".{fraction:06}" if fraction else "")
    return text


def _format_chain(chain: Chain, where: Field) -> str:
    if chain is None or (where.usec and chain == (Component(0, -1, USEC),)):
        return "*"
    return ",".join(_format_item(item, where) for item in chain)


def _format_weekdays(bits: int) -> str:
    """Runs of three or more days as Mon..Wed, shorter ones as a list, as systemd writes them."""
    parts: list[str] = []
    day = 0
    while day < 7:
        if bits & (1 << day):
            last = day
            while last + 1 < 7 and bits & (1 << (last + 1)):
                last += 1
            if last >= day + 2:
                parts.append(f"{WEEKDAY_NAMES[day]}..{WEEKDAY_NAMES[last]}")
            else:
                parts.extend(WEEKDAY_NAMES[day:last + 1])
            day = last + 1
        else:
            day += 1
    return ",".join(parts)
