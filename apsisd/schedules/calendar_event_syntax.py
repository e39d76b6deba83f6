"""Reading an OnCalendar= expression exactly as systemd 252's calendar_spec_from_string() reads it.

The grammar is systemd's, quirks included (`Mon-Fri` is a weekday range,
`*/15` is not a repetition but `0/15` is, a trailing `,` after weekdays is
fine), so an expression is accepted here if and only if systemd accepts it.
Where systemd only says "Invalid argument", this says where and why.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apsisd.errors import InvalidFields, invalid
from apsisd.schedules.calendar_event import USEC, CalendarEvent, Chain, Component
from apsisd.schedules.zone_changes import tznames

EXAMPLES = "e.g. 'Mon..Fri *-*-* 09:30', '*-*-01 00:00', '*:0/15', '*-02~1' or 'daily Europe/London'"
DAYS = (("monday", 0), ("mon", 0), ("tuesday", 1), ("tue", 1), ("wednesday", 2), ("wed", 2),
        ("thursday", 3), ("thu", 3), ("friday", 4), ("fri", 4), ("saturday", 5), ("sat", 5),
        ("sunday", 6), ("sun", 6))
MIDNIGHT: dict[str, Chain | int] = {"hour": (Component(0),), "minute": (Component(0),), "second": (Component(0),)}
FIRST: dict[str, Chain | int] = {"day": (Component(1),), **MIDNIGHT}
SHORTHANDS: dict[str, dict[str, Chain | int]] = {
    "minutely": {"second": (Component(0),)},
    "hourly": {"minute": (Component(0),), "second": (Component(0),)},
    "daily": MIDNIGHT,
    "monthly": FIRST,
    "weekly": {"weekdays": 1, **MIDNIGHT},
    "yearly": {"month": (Component(1),), **FIRST},
    "quarterly": {"month": tuple(Component(m) for m in (1, 4, 7, 10)), **FIRST},
    "semiannually": {"month": (Component(1), Component(7)), **FIRST},
}
ALIASES = {"annually": "yearly", "anually": "yearly", "biannually": "semiannually",
           "bi-annually": "semiannually", "semi-annually": "semiannually"}
ZONE_NAME = re.compile(r"[0-9A-Za-z_+-]+(/[0-9A-Za-z_+-]+)*", re.ASCII)
ZONE_LIKE = re.compile(r"[A-Za-z][0-9A-Za-z_+-]*(/[0-9A-Za-z_+-]+)+", re.ASCII)  # Area/Place
ABBREVIATION = re.compile(r"[0-9A-Za-z+-]+", re.ASCII)
INT_MAX = 2**31 - 1
ULONG_MAX = 2**64 - 1
MAX_ITEMS = 241  # systemd's CALENDARSPEC_COMPONENTS_MAX, counted in items
# Years 1..9999; outside them the year is out of range all the same (and 1..69 become 2001..2069, as in systemd).
FIRST_TIMESTAMP, LAST_TIMESTAMP = -62135596800, 253402300799


class _Refused(Exception):
    """Where the expression stops making sense, and what was expected there."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position, self.reason = position, reason


def parse_calendar_event(text: str, local: ZoneInfo) -> CalendarEvent:
    """The event `text` describes; `local` is the zone it is read in when it names none.

    Raises InvalidFields with one message naming the wrong part.
    """
    try:
        event = _Parser(text, local).event()
    except _Refused as refused:
        head, _, word = text.rpartition(" ")
        if head and ZONE_LIKE.fullmatch(word):
            raise invalid(f"{text!r} ends in {word!r}, which is not a time zone known here; use an IANA name "
                          "such as Europe/London, or UTC") from None
        rest = text[refused.position:]
        where = f"at {rest[:20]!r} (character {refused.position + 1})" if rest else "at its end"
        raise invalid(f"{text!r} is not a systemd calendar event: {where}: {refused.reason}; {EXAMPLES}") from None
    problems = event.problems()
    if problems:
        raise InvalidFields([((), f"{text!r} is not a valid calendar event: {problem}") for problem in problems])
    return event


def valid_zone(name: str) -> ZoneInfo | None:
    """The zone systemd's verify_timezone() would accept under this name, if any."""
    if name != "UTC" and not ZONE_NAME.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


class _Parser:
    """One pass over the text with a cursor, mirroring calendarspec.c function by function."""

    def __init__(self, text: str, local: ZoneInfo) -> None:
        self.text, self.local, self.pos = text, local, 0
        self.fields: dict[str, Chain | int | bool] = {}

    def event(self) -> CalendarEvent:
        zone: dict[str, bool | str | int] = {}
        body = self.text
        if body.lower().endswith(" utc"):
            zone["utc"], body = True, body[:-4]
        elif " " in body:
            head, _, word = body.rpartition(" ")
            names = tznames(self.local) if ABBREVIATION.fullmatch(word) else ()
            dst = next((index for index, name in enumerate(names) if name.lower() == word.lower()), -1)
            if dst >= 0:
                zone.update(dst=dst, dst_name=names[dst])
                body = head
            elif valid_zone(word) is not None:
                zone["timezone"], body = word, head
        if not body:
            raise self.refused("there is nothing before the time zone", 0)
        self.text = body
        shorthand = ALIASES.get(body.lower(), body.lower())
        if shorthand in SHORTHANDS:
            return CalendarEvent(**{**SHORTHANDS[shorthand], **zone}).normalized()  # type: ignore[arg-type]
        self.weekdays()
        if not self.date():
            self.time()
        if self.pos < len(self.text):
            raise self.refused("unexpected text after the timestamp")
        return CalendarEvent(**{**self.fields, **zone}).normalized()  # type: ignore[arg-type]

    def at(self, offset: int = 0) -> str:
        """The character under the cursor (plus offset), '' past the end."""
        return self.text[self.pos + offset:self.pos + offset + 1]

    def refused(self, reason: str, position: int | None = None) -> _Refused:
        """The refusal at the cursor (or `position`), with a hint where `*/N` was meant as cron's."""
        position = self.pos if position is None else position
        if position > 0 and self.text[position - 1:position + 1] == "*/":
            reason += " ('*/N' is not systemd syntax: write 0/N)"
        return _Refused(position, reason)

    def skip_spaces(self) -> None:
        while self.at() == " ":
            self.pos += 1

    def weekdays(self) -> None:
        """parse_weekdays(): an optional list of weekdays and weekday ranges, ending at a space."""
        bits, low, first = 0, -1, True
        while True:
            name, number = next(((n, d) for n, d in DAYS if self.text[self.pos:self.pos + len(n)].lower() == n),
                                ("", -1))
            if not name:
                if first:
                    return
                raise self.refused("expected a weekday name (Mon..Sun or Monday..Sunday)")
            if self.at(len(name)) not in ("", "-", ".", ",", " "):
                raise self.refused("expected a weekday name (Mon..Sun or Monday..Sunday), "
                               "followed by ',', '..' or a space")
            bits |= 1 << number
            if low >= 0:
                if low > number:
                    raise self.refused("a weekday range must run forwards, Mon..Sun")
                bits |= sum(1 << day for day in range(low + 1, number))
            self.pos += len(name)
            self.fields["weekdays"] = bits
            if self.at() in ("", " "):
                self.skip_spaces()
                return
            if self.at() in (".", "-"):
                if low >= 0 or (self.at() == "." and self.at(1) != "."):
                    raise self.refused("expected ',' or '..' between weekdays")
                low = number
                self.pos += 2 if self.at() == "." else 1
            elif self.at() == ",":
                low = -1
                self.pos += 1
            if self.at() in ("", " "):
                self.skip_spaces()
                if low >= 0:
                    raise self.refused("a weekday range needs its last day, e.g. Mon..Fri")
                return
            first = False

    def date(self) -> bool:
        """parse_date(): [YEAR-]MONTH(-|~)DAY or @SECONDS; True when that was the whole event."""
        if not self.at():
            return False
        if self.at() == "@":
            self.timestamp()
            return True
        start = self.pos
        first = self.chain(usec=False)
        if self.at() in ("", ":"):
            self.pos = start  # it was the hour
            return False
        second = self.date_part(first_separator=True)
        if self.at() in ("", " "):
            self.skip_spaces()
            self.fields.update(month=first, day=second)
            return False
        if self.fields.get("end_of_month"):
            raise self.refused("'~' (days back from the month's end) goes between month and day")
        third = self.date_part(first_separator=False)
        if self.at() not in ("", " "):
            raise self.refused("expected a space between the date and the time")
        self.skip_spaces()
        self.fields.update(year=first, month=second, day=third)
        return False

    def date_part(self, *, first_separator: bool) -> Chain:
        if self.at() == "~":
            self.fields["end_of_month"] = True
        elif self.at() != "-":
            what = "a date (YEAR-MONTH-DAY)" if first_separator else "the day"
            raise self.refused(f"expected '-' or '~' before {what}, or ':' after an hour")
        self.pos += 1
        return self.chain(usec=False)

    def timestamp(self) -> None:
        """@SECONDS: one instant, as strtoul() reads the number."""
        self.pos += 1
        match = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)", re.ASCII).match(self.text, self.pos)
        if match is None:
            raise self.refused("expected a number of seconds since 1970 after '@'")
        value = int(match.group(2))
        if value > ULONG_MAX:
            raise self.refused("the number after '@' is too large")
        if match.group(1) == "-":
            value = (-value) % 2**64
        self.pos = match.end()
        seconds = value - 2**64 if value >= 2**63 else value
        if not FIRST_TIMESTAMP <= seconds <= LAST_TIMESTAMP:
            raise self.refused("the instant after '@' is not between 1970 and 2199", match.start(2))
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        self.fields.update({name: (Component(value),) for name, value in (
            ("year", moment.year), ("month", moment.month), ("day", moment.day), ("hour", moment.hour),
            ("minute", moment.minute), ("second", moment.second * USEC))})
        self.fields["utc"] = True

    def time(self) -> None:
        """parse_calendar_time(): HOUR:MINUTE[:SECOND], or midnight when absent."""
        if not self.at():
            self.fields.update(MIDNIGHT)
            return
        hour = self.chain(usec=False)
        if self.at() != ":":
            raise self.refused("expected ':' between hour and minute")
        self.pos += 1
        minute = self.chain(usec=False)
        second: Chain = (Component(0),)
        if self.at():
            if self.at() != ":":
                raise self.refused("expected ':' between minute and second, or the end")
            self.pos += 1
            second = self.chain(usec=True)
            if self.at():
                raise self.refused("unexpected text after the seconds")
        self.fields.update(hour=hour, minute=minute, second=second)

    def chain(self, *, usec: bool) -> Chain:
        """parse_chain(): `*`, or items separated by ','."""
        if self.at() == "*":
            self.pos += 1
            return (Component(0, -1, USEC),) if usec else None
        items: list[Component] = []
        while True:
            if len(items) >= MAX_ITEMS:
                raise self.refused(f"a list may hold at most {MAX_ITEMS} items")
            items.append(self.component(usec))
            if self.at() != ",":
                return tuple(items)
            self.pos += 1

    def component(self, usec: bool) -> Component:
        """prepend_component(): N, N..M, N/R or N..M/R."""
        begin = self.pos
        start = self.number(usec)
        stop, repeat = -1, 0
        if self.at() == "." and self.at(1) == ".":
            self.pos += 2
            stop, repeat = self.number(usec), USEC if usec else 1
        if self.at() == "/":
            self.pos += 1
            where = self.pos
            repeat = self.number(usec)
            if repeat == 0:
                raise self.refused("a repetition must be more than 0", where)
        elif start > INT_MAX - repeat:
            raise self.refused("the number is too large", begin)
        elif usec and stop >= 0 and start + repeat > stop:
            raise self.refused("a range of seconds without '/' must span a whole second", begin)
        if self.at() not in ("", " ", ",", "-", "~", ":"):
            raise self.refused(f"unexpected {self.at()!r}")
        return Component(start, stop, repeat)

    def number(self, usec: bool) -> int:
        """parse_component_decimal(): digits, and for seconds a fraction rounded to microseconds."""
        match = re.compile(r"[0-9]+", re.ASCII).match(self.text, self.pos)
        if match is None:
            raise self.refused("expected a number or '*'")
        value = int(match.group())
        if value > ULONG_MAX or (usec and value * USEC > ULONG_MAX):
            raise self.refused("the number is too large")
        self.pos = match.end()
        if usec:
            value *= USEC
            if self.at() == "." and self.at(1) != ".":
                self.pos += 1
                value += self.fraction()
        if value > INT_MAX:
            raise self.refused("the number is too large", match.start())
        return value

    def fraction(self) -> int:
        """parse_fractional_part_u(): six digits, padded, rounded up by a seventh of 5 or more."""
        match = re.compile(r"[0-9]+", re.ASCII).match(self.text, self.pos)
        if match is None:
            raise self.refused("expected digits after the decimal point")
        digits = match.group()
        self.pos = match.end()
        return int(digits[:6].ljust(6, "0")) + (len(digits) > 6 and digits[6] >= "5")
