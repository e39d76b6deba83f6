"""Reading a text/event-stream (server-sent events, as the HTML standard defines them), one line at a time.

An event is its `event:` name (default "message"), its `data:` lines joined
with newlines, and the `id:` it carried; a blank line ends it. Comment lines
(`: keepalive`), unknown fields and events without data are ignored. `last_id` is the latest id
seen, the one to send back as Last-Event-ID when reconnecting.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    name: str
    data: str
    id: str | None = None


@dataclass(slots=True)
class EventReader:
    last_id: str | None = None
    _name: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> Event | None:
        """Take one line (its end of line stripped or not); the event it completes, if any."""
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._name = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = self.last_id = value
        return None

    def _dispatch(self) -> Event | None:
        name, data, event_id = self._name, self._data, self._id
        self._name, self._data, self._id = "", [], None
        if not data:  # as the standard says: an event without data is not dispatched
            return None
        return Event(name=name or "message", data="\n".join(data), id=event_id)
