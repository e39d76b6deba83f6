"""Reading an event stream line by line, as the HTML standard says: names, multi-line data, ids, comments."""
from __future__ import annotations

from apsisd.cli.sse import Event, EventReader


def read(text: str) -> tuple[list[Event], EventReader]:
    reader = EventReader()
    events = [event for line in text.splitlines(keepends=True) if (event := reader.feed(line)) is not None]
    return events, reader


def test_events_with_names_ids_and_data() -> None:
    events, reader = read(
        'event: hello\ndata: {"seq": 4, "resume": "none"}\n\n'
        ": keepalive\n\n"
        "id: 5\nevent: run\ndata: {\"run_id\": \"r1\"}\n\n"
        "data: first\r\ndata:second\r\n\r\n"
        "event: jobs\nretry: 100\nunknown: x\ndata: {}\n\n"
    )
    assert events == [
        Event(name="hello", data='{"seq": 4, "resume": "none"}'),
        Event(name="run", data='{"run_id": "r1"}', id="5"),
        Event(name="message", data="first\nsecond"),
        Event(name="jobs", data="{}"),
    ]
    assert reader.last_id == "5"


def test_an_event_without_data_is_not_dispatched_and_an_unfinished_one_waits() -> None:
    events, reader = read("event: nothing\n\nid: 9\n\ndata: half")
    assert events == [] and reader.last_id == "9"
    assert reader.feed("\n") == Event(name="message", data="half")
