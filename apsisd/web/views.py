"""How the pages write values: instants, durations, sizes. Pure functions, used as Jinja2 filters.

An instant is written in UTC on the server (a page read without JavaScript is exact and the same for everyone);
the browser's module time.js rewrites it in the reader's own zone and puts local, UTC, the run's zone and how
long ago in its tooltip.
"""
from __future__ import annotations

from datetime import UTC, datetime

from apsisd.runs.jso import instant

_UNITS = ((86_400, "d"), (3_600, "h"), (60, "min"))
_SIZES = ("B", "KiB", "MiB", "GiB", "TiB")


def utc(moment: datetime | None) -> str:
    """'2026-12-07 01:30:05 UTC'; an empty text for no instant."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(moment: datetime | None) -> str:
    """The instant as the API writes it (for `<time datetime>` and the scripts)."""
    return "" if moment is None else instant(moment)


def duration(seconds: float | None) -> str:
    """'850 ms', '3.2 s', '4 min 05 s', '2 h 03 min', '3 d 04 h'; negative as '-' and the same."""
    if seconds is None:
        return ""
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    for index, (size, name) in enumerate(_UNITS):
        if whole >= size:
            first, rest = divmod(whole, size)
            below_size, below_name = _UNITS[index + 1] if index + 1 < len(_UNITS) else (1, "s")
            return f"{first} {name} {rest // below_size:02d} {below_name}"
    raise AssertionError(seconds)  # unreachable: whole >= 60 above


def size(count: int | None) -> str:
    """'512 B', '1.5 KiB', '12.0 MiB'."""
    if count is None:
        return ""
    shown = float(count)
    for unit in _SIZES:
        if shown < 1024 or unit == _SIZES[-1]:
            return f"{count} B" if unit == "B" else f"{shown:.1f} {unit}"
        shown /= 1024
    raise AssertionError(count)


def cpu(nanoseconds: int | None) -> str:
    return "" if nanoseconds is None else duration(nanoseconds / 1e9)


FILTERS = {"utc": utc, "iso": iso, "duration": duration, "size": size, "cpu": cpu}
