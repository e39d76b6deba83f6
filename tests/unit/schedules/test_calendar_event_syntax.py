"""parse_calendar_event(): what systemd 252 accepts, in its normalized form, and every refusal with its message.

(test_on_calendar compares the same with systemd-analyze itself.)
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from apsisd.errors import InvalidFields
from apsisd.schedules.calendar_event import USEC, Component
from apsisd.schedules.calendar_event_syntax import parse_calendar_event, valid_zone

UTC = ZoneInfo("UTC")
EXAMPLES = "e.g. 'Mon..Fri *-*-* 09:30', '*-*-01 00:00', '*:0/15', '*-02~1' or 'daily Europe/London'"

NORMALIZED = [
    # systemd.time(7)'s own table
    ("Sat,Thu,Mon..Wed,Sat..Sun", "Mon..Thu,Sat,Sun *-*-* 00:00:00"),
    ("Mon,Sun 12-*-* 2,1:23", "Mon,Sun 2012-*-* 01,02:23:00"),
    ("Wed *-1", "Wed *-*-01 00:00:00"),
    ("Wed..Wed,Wed *-1", "Wed *-*-01 00:00:00"),
    ("Wed, 17:48", "Wed *-*-* 17:48:00"),
    ("Wed..Sat,Tue 12-10-15 1:2:3", "Tue..Sat 2012-10-15 01:02:03"),
    ("*-*-7 0:0:0", "*-*-07 00:00:00"),
    ("10-15", "*-10-15 00:00:00"),
    ("monday *-12-* 17:00", "Mon *-12-* 17:00:00"),
    ("Mon,Fri *-*-3,1,2 *:30:45", "Mon,Fri *-*-01,02,03 *:30:45"),
    ("12,14,13,12:20,10,30", "*-*-* 12,13,14:10,20,30:00"),
    ("12..14:10,20,30", "*-*-* 12..14:10,20,30:00"),
    ("mon,fri *-1/2-1,3 *:30:45", "Mon,Fri *-01/2-01,03 *:30:45"),
    ("03-05 08:05:40", "*-03-05 08:05:40"),
    ("08:05:40", "*-*-* 08:05:40"),
    ("05:40", "*-*-* 05:40:00"),
    ("Sat,Sun 12-05 08:05:40", "Sat,Sun *-12-05 08:05:40"),
    ("Sat,Sun 08:05:40", "Sat,Sun *-*-* 08:05:40"),
    ("2003-03-05 05:40", "2003-03-05 05:40:00"),
    ("05:40:23.4200004/3.1700005", "*-*-* 05:40:23.420000/3.170001"),
    ("2003-02..04-05", "2003-02..04-05 00:00:00"),
    ("2003-03-05 05:40 UTC", "2003-03-05 05:40:00 UTC"),
    ("2003-03-05", "2003-03-05 00:00:00"),
    ("03-05", "*-03-05 00:00:00"),
    ("hourly", "*-*-* *:00:00"),
    ("daily", "*-*-* 00:00:00"),
    ("daily UTC", "*-*-* 00:00:00 UTC"),
    ("monthly", "*-*-01 00:00:00"),
    ("weekly", "Mon *-*-* 00:00:00"),
    ("weekly Pacific/Auckland", "Mon *-*-* 00:00:00 Pacific/Auckland"),
    ("yearly", "*-01-01 00:00:00"),
    ("annually", "*-01-01 00:00:00"),
    ("*:2/3", "*-*-* *:02/3:00"),
    # the other shorthands, any case
    ("MINUTELY", "*-*-* *:*:00"),
    ("quarterly", "*-01,04,07,10-01 00:00:00"),
    ("semiannually", "*-01,07-01 00:00:00"),
    ("semi-annually", "*-01,07-01 00:00:00"),
    ("biannually", "*-01,07-01 00:00:00"),
    ("bi-annually", "*-01,07-01 00:00:00"),
    ("anually", "*-01-01 00:00:00"),
    # weekdays: long names, old '-' ranges, trailing comma
    ("Monday..Friday", "Mon..Fri *-*-* 00:00:00"),
    ("Mon-Wed,Sun 9:00", "Mon..Wed,Sun *-*-* 09:00:00"),
    ("Tue,Wed", "Tue,Wed *-*-* 00:00:00"),
    ("Sat..Sun", "Sat,Sun *-*-* 00:00:00"),
    ("Mon..Sun", "*-*-* 00:00:00"),
    ("Fri, 13:00", "Fri *-*-* 13:00:00"),
    # omitted parts, *, lists, ranges, repetitions
    ("*-*", "*-*-* 00:00:00"),
    ("*:*", "*-*-* *:*:00"),
    ("*:*:*", "*-*-* *:*:*"),
    ("*:0/15", "*-*-* *:00/15:00"),
    ("*:0,0,30", "*-*-* *:00,30:00"),
    ("1..10/3:00", "*-*-* 01..10/3:00:00"),  # trimmed to the last repetition
    ("*:1..3/5", "*-*-* *:01:00"),  # a range that cannot repeat is its start
    ("*:5..5", "*-*-* *:05:00"),
    ("2025..2030-1/3-1 00:00", "2025..2030-01/3-01 00:00:00"),
    ("*-*-1/10 06:00", "*-*-01/10 06:00:00"),
    # the last days of a month
    ("*-02~1", "*-02~01 00:00:00"),
    ("*-05~07/1", "*-05~07/1 00:00:00"),
    ("Mon *-05~07/1", "Mon *-05~07/1 00:00:00"),
    ("*-*~1..7/2", "*-*~01..07/2 00:00:00"),
    ("*-02~*", "*-02-* 00:00:00"),
    # fractional seconds, rounded to microseconds
    ("*:*:0.5..2.7", "*-*-* *:*:00.500000..02.500000"),
    ("*:*:0/0.25", "*-*-* *:*:00/0.250000"),
    ("12:00:59.9999994", "*-*-* 12:00:59.999999"),
    ("12:00:01.0000005", "*-*-* 12:00:01.000001"),
    # two-digit years, and @seconds
    ("69-01-01", "2069-01-01 00:00:00"),
    ("70-01-01", "1970-01-01 00:00:00"),
    ("99..05-1-1", "1999..2005-01-01 00:00:00"),
    ("@1700000000", "2023-11-14 22:13:20 UTC"),
    ("@ 1700000000", "2023-11-14 22:13:20 UTC"),
    ("@-62000000000", "2005-04-19 09:46:40 UTC"),  # year 5: a two-digit year to systemd
    # zones
    ("12:00 utc", "*-*-* 12:00:00 UTC"),
    ("12:00 Etc/GMT+5", "*-*-* 12:00:00 Etc/GMT+5"),
    ("12:00 America/Argentina/Buenos_Aires", "*-*-* 12:00:00 America/Argentina/Buenos_Aires"),
    ("12:00 EST", "*-*-* 12:00:00 EST"),  # in UTC, EST is a zone file
]


@pytest.mark.parametrize(("text", "normalized"), NORMALIZED)
def test_normalized_form(text: str, normalized: str) -> None:
    assert str(parse_calendar_event(text, UTC)) == normalized


def test_parts() -> None:
    event = parse_calendar_event("Mon,Wed 2024-*~3/1 9:30:15.5 Europe/Berlin", UTC)
    assert event.weekdays == 0b101
    assert event.year == (Component(2024),) and event.month is None
    assert event.day == (Component(3, -1, 1),) and event.end_of_month
    assert event.hour == (Component(9),) and event.minute == (Component(30),)
    assert event.second == (Component(15 * USEC + 500000),)
    assert event.timezone == "Europe/Berlin" and not event.utc and event.dst == -1
    assert parse_calendar_event("daily", UTC).second == (Component(0),)
    assert parse_calendar_event("*:*:*", UTC).second == (Component(0, -1, USEC),)


@pytest.mark.parametrize(("text", "local", "dst", "shown"), [
    ("daily EST", "America/New_York", 0, "EST"),
    ("daily edt", "America/New_York", 1, "EDT"),
    ("daily GMT", "Europe/London", 0, "GMT"),
    ("daily BST", "Europe/London", 1, "BST"),
    ("daily IST", "Asia/Kolkata", 0, "IST"),
    ("daily +0630", "Asia/Kolkata", 1, "+0630"),  # glibc's tzname[1]: Kolkata's last daylight time (1945)
    ("daily IST", "Europe/Dublin", 0, "IST"),  # Dublin's winter time is its daylight saving (negative)
    ("daily GMT", "Europe/Dublin", 1, "GMT"),
])
def test_local_zone_abbreviation_forces_tm_isdst(text: str, local: str, dst: int, shown: str) -> None:
    event = parse_calendar_event(text, ZoneInfo(local))
    assert (event.dst, event.timezone, event.utc) == (dst, None, False)
    assert str(event) == f"*-*-* 00:00:00 {shown}"


def test_abbreviation_of_another_zone_is_a_zone_name_or_nothing() -> None:
    assert parse_calendar_event("daily EST", ZoneInfo("Europe/London")).timezone == "EST"
    with pytest.raises(InvalidFields):
        parse_calendar_event("daily BST", ZoneInfo("America/New_York"))


def syntax(text: str, where: str, reason: str) -> tuple[str, str]:
    return text, f"{text!r} is not a systemd calendar event: {where}: {reason}; {EXAMPLES}"


def invalid(text: str, reason: str) -> tuple[str, str]:
    return text, f"{text!r} is not a valid calendar event: {reason}"


REFUSED = [
    syntax("Mon..Fry 9:00", "at 'Fry 9:00' (character 6)", "expected a weekday name (Mon..Sun or Monday..Sunday)"),
    syntax("Montag", "at 'Montag' (character 1)",
           "expected a weekday name (Mon..Sun or Monday..Sunday), followed by ',', '..' or a space"),
    syntax("Mon-", "at its end", "a weekday range needs its last day, e.g. Mon..Fri"),
    syntax("Fri..Mon", "at 'Mon' (character 6)", "a weekday range must run forwards, Mon..Sun"),
    syntax("Mon..Wed..Fri", "at '..Fri' (character 9)", "expected ',' or '..' between weekdays"),
    syntax("Mon.Tue", "at '.Tue' (character 4)", "expected ',' or '..' between weekdays"),
    syntax("*/15", "at '/15' (character 2)", "expected '-' or '~' before a date (YEAR-MONTH-DAY), or ':' after an "
                                             "hour ('*/N' is not systemd syntax: write 0/N)"),
    syntax("*:*/15", "at '/15' (character 4)",
           "expected ':' between minute and second, or the end ('*/N' is not systemd syntax: write 0/N)"),
    syntax("12 13:00", "at ' 13:00' (character 3)",
           "expected '-' or '~' before a date (YEAR-MONTH-DAY), or ':' after an hour"),
    syntax("*-*-*-1", "at '-1' (character 6)", "expected a space between the date and the time"),
    syntax("*-02~1-1", "at '-1' (character 7)", "expected a space between the date and the time"),
    syntax("2024~02-01", "at '-01' (character 8)", "'~' (days back from the month's end) goes between month and day"),
    syntax("*-01=1", "at '=1' (character 5)", "unexpected '='"),
    syntax("*", "at its end", "expected ':' between hour and minute"),
    syntax("x", "at 'x' (character 1)", "expected a number or '*'"),
    syntax("1,*:00", "at '*:00' (character 3)", "expected a number or '*'"),
    syntax("*:0/0", "at '0' (character 5)", "a repetition must be more than 0"),
    syntax("*:*:0.5..0.7", "at '0.5..0.7' (character 5)", "a range of seconds without '/' must span a whole second"),
    syntax("12:00:05.", "at its end", "expected digits after the decimal point"),
    syntax("12.5:00", "at '.5:00' (character 3)", "unexpected '.'"),
    syntax("12:00:00 ", "at ' ' (character 9)", "unexpected text after the seconds"),  # the schedule strips it
    syntax("daily  UTC", "at 'daily  UTC' (character 1)", "expected a number or '*'"),
    syntax(" UTC", "at ' UTC' (character 1)", "there is nothing before the time zone"),
    syntax("@", "at its end", "expected a number of seconds since 1970 after '@'"),
    syntax("@1700000000 12:00", "at ' 12:00' (character 12)", "unexpected text after the timestamp"),
    syntax("@99999999999999", "at '99999999999999' (character 2)",
           "the instant after '@' is not between 1970 and 2199"),
    syntax("99999999999:00", "at '99999999999:00' (character 1)", "the number is too large"),
    syntax("*:*:99999999999999", "at '99999999999999' (character 5)", "the number is too large"),
    syntax(",".join(["1"] * 242) + ":00", f"at '1:00' (character {2 * 241 + 1})", "a list may hold at most 241 items"),
    ("12:00 Foo/Bar", "'12:00 Foo/Bar' ends in 'Foo/Bar', which is not a time zone known here; use an IANA name "
                      "such as Europe/London, or UTC"),
    ("daily Europe/Lndon", "'daily Europe/Lndon' ends in 'Europe/Lndon', which is not a time zone known here; "
                           "use an IANA name such as Europe/London, or UTC"),
    invalid("25:00", "hour 25 is out of range; hours go 00..23"),
    invalid("*:60", "minute 60 is out of range; minutes go 00..59"),
    invalid("*:*:60", "second 60 is out of range; seconds go 00..59.999999"),
    invalid("*:*:59.9999996", "second 60 is out of range; seconds go 00..59.999999"),
    invalid("*-13-01", "month 13 is out of range; months go 01..12"),
    invalid("*-0-01", "month 00 is out of range; months go 01..12"),
    invalid("*-*-32", "day 32 is out of range; days go 01..31"),
    invalid("1969-01-01", "year 1969 is out of range; years go 1970..2199"),
    invalid("2200-01-01", "year 2200 is out of range; years go 1970..2199"),
    invalid("*-02~29", "day ~29 is out of range; days go ~01..~28 here (28 days back at most, 3 fewer for each "
                       "further item of the list)"),
    invalid("*-*~08,28", "day ~28 is out of range; days go ~01..~25 here (28 days back at most, 3 fewer for each "
                         "further item of the list)"),
    invalid("*-*~01/2", "day ~01/2 repeats past the month's last day"),
    invalid("5..3:00", "hour 05..03 is an empty range: it must go from low to high"),
    invalid("*:0/70", "minute 00/70 repeats less than once within 00..59"),
    invalid("*:50/20", "minute 50/20 never repeats within 00..59"),
    invalid("@-5", "year 1969 is out of range; years go 1970..2199"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_calendar_event(text, UTC)
    assert caught.value.problems == [((), message)]


def test_every_range_problem_is_reported() -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_calendar_event("*-13-32 25:61", UTC)
    assert [message.split(": ", 1)[1] for _, message in caught.value.problems] == [
        "month 13 is out of range; months go 01..12", "day 32 is out of range; days go 01..31",
        "hour 25 is out of range; hours go 00..23", "minute 61 is out of range; minutes go 00..59"]


@pytest.mark.parametrize(("name", "known"), [
    ("UTC", True), ("Europe/London", True), ("America/Argentina/Buenos_Aires", True), ("Etc/GMT+5", True),
    ("EST", True), ("Europe//London", False), ("/etc/localtime", False), ("Europe/London/", False),
    ("../etc/passwd", False), ("Europe/Lndon", False), ("Europe", False), ("", False), ("Mon..Fri", False),
])
def test_valid_zone(name: str, known: bool) -> None:
    assert (valid_zone(name) is not None) is known
