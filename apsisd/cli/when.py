"""The TIME an operator writes for `run --at` and the `runs` filters, as an instant.

`now`; `+DURATION` or `-DURATION` from now (+10m, +1h30m, -2d); an ISO 8601
time with an offset (2026-03-09T14:00:00+01:00, ...Z) or without one (in the
local zone: 2026-03-09T14:00, 2026-03-09 14:00, 2026-03-09 for midnight);
or a bare HH:MM[:SS] in the local zone: for --at its next occurrence, for a
filter today's. Pure: the clock and the zone are arguments.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from apsisd.errors import ApsisError, InvalidFields
from apsisd.quantities import DAYTIME, parse_daytime, parse_duration

TIME_HELP = ("use now, +DURATION or -DURATION (+10m, +1h30m), HH:MM (local), or an ISO 8601 time such as "
             "2026-03-09T14:00 (local) or 2026-03-09T14:00:00+01:00")


class BadTime(ApsisError):
    """A TIME option's value is not a time."""


def parse_time(text: str, *, now: datetime, zone: tzinfo, upcoming: bool) -> datetime:
    """The instant `text` names, in UTC. `upcoming`: a bare HH:MM is its next occurrence (else today's)."""
    value = text.strip()
    if value == "now":
        return now.astimezone(UTC)
    if value[:1] in ("+", "-"):
        try:
            seconds = parse_duration(value[1:])
        except InvalidFields:
            raise BadTime(f"{text!r} is not a time; {TIME_HELP}") from None
        return (now + timedelta(seconds=seconds if value[0] == "+" else -seconds)).astimezone(UTC)
    if DAYTIME.fullmatch(value):
        return _daytime(value, now, zone, upcoming)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadTime(f"{text!r} is not a time; {TIME_HELP}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def _daytime(value: str, now: datetime, zone: tzinfo, upcoming: bool) -> datetime:
    try:
        daytime = parse_daytime(value)
    except InvalidFields as exc:
        raise BadTime(exc.problems[0][1]) from None
    today = now.astimezone(zone).date()
    moment = datetime.combine(today, daytime, tzinfo=zone)
    if upcoming and moment <= now:
        moment = datetime.combine(today + timedelta(days=1), daytime, tzinfo=zone)
    return moment.astimezone(UTC)
