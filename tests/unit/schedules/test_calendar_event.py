"""CalendarEvent: systemd's normalisation, its range checks, and its normalized form, on built events."""
from __future__ import annotations

import pytest

from apsisd.schedules.calendar_event import USEC, CalendarEvent, Component


def test_normalized() -> None:
    event = CalendarEvent(
        weekdays=127, year=(Component(24), Component(99), Component(1999), Component(5, 69)),
        month=(Component(3), Component(1), Component(3)), day=None, end_of_month=True,
        hour=(Component(1, 10, 4), Component(2, 4, 5)), minute=(Component(7, 7, 1),),
        second=(Component(0, -1, USEC),), timezone="UTC",
    ).normalized()
    assert event.weekdays == -1  # every day is any day
    assert event.year == (Component(1999), Component(2005, 2069), Component(2024))  # two-digit years, deduplicated
    assert event.month == (Component(1), Component(3))
    assert event.end_of_month is False  # `~` with no day means nothing
    assert event.hour == (Component(1, 9, 4), Component(2))  # trimmed to the last repetition; cannot repeat: start
    assert event.minute == (Component(7),)
    assert (event.utc, event.timezone) == (True, None)
    assert CalendarEvent(weekdays=0).normalized().weekdays == -1


@pytest.mark.parametrize(("event", "text"), [
    (CalendarEvent(), "*-*-* *:*:*"),
    (CalendarEvent(weekdays=0b1011011), "Mon,Tue,Thu,Fri,Sun *-*-* *:*:*"),
    (CalendarEvent(weekdays=0b0111110), "Tue..Sat *-*-* *:*:*"),
    (CalendarEvent(year=(Component(2024, 2030, 2),), month=(Component(1, 3, 1),), day=(Component(7, -1, 7),),
                   end_of_month=True, hour=(Component(9),), minute=(Component(5), Component(35)),
                   second=(Component(1500000, -1, 2500000), Component(3 * USEC, 9 * USEC, USEC))),
     "2024..2030/2-01..03~07/7 09:05,35:01.500000/2.500000,03..09"),
    (CalendarEvent(second=(Component(0, -1, USEC),), utc=True), "*-*-* *:*:* UTC"),
    (CalendarEvent(timezone="Asia/Kolkata"), "*-*-* *:*:* Asia/Kolkata"),
    (CalendarEvent(dst=1, dst_name="EDT"), "*-*-* *:*:* EDT"),
])
def test_normalized_form(event: CalendarEvent, text: str) -> None:
    assert str(event) == text


@pytest.mark.parametrize(("event", "problems"), [
    (CalendarEvent(hour=(Component(25), Component(1, 30, 1)), minute=(Component(1, -1, 59),)),
     ["hour 25 is out of range; hours go 00..23", "hour 01..30 is out of range; hours go 00..23",
      "minute 01/59 never repeats within 00..59"]),
    (CalendarEvent(second=(Component(0, -1, 60 * USEC),)), ["second 00/60 repeats less than once within "
                                                            "00..59.999999"]),
    (CalendarEvent(day=(Component(3), Component(26)), end_of_month=True),
     ["day ~26 is out of range; days go ~01..~25 here (28 days back at most, 3 fewer for each further item of "
      "the list)"]),
    (CalendarEvent(day=(Component(3, -1, 5),), end_of_month=True), ["day ~03/5 repeats past the month's last day"]),
    (CalendarEvent(year=(Component(2030, 2020, 1),)), ["year 2030..2020 is an empty range: it must go from low to "
                                                       "high"]),
    (CalendarEvent(year=(Component(1970), Component(2199)), month=(Component(1, 12, 11),)), []),
])
def test_problems(event: CalendarEvent, problems: list[str]) -> None:
    assert event.problems() == problems
