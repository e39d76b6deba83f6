"""Frames on agentd's stdio: what is sent comes back whole, and what breaks the rules is refused, not trusted."""
from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import pytest

from agentd.protocol import frames
from agentd.protocol.frames import COMPRESSED, HEADER, MAX_FRAME, ProtocolError


def read_all(data: bytes) -> list[dict[str, Any] | None]:
    async def main() -> list[dict[str, Any] | None]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        found = []
        while (message := await frames.read(reader)) is not None:
            found.append(message)
        found.append(None)
        return found

    return asyncio.run(main())


def raw(body: bytes, flags: int = 0) -> bytes:
    return HEADER.pack(len(body), flags) + body


@pytest.mark.parametrize("message", [{}, {"id": 1, "op": "ping"}, {"text": "é\u2028\0"},
                                     {"items": [{"data": "x" * 100}] * 200}])
def test_what_is_sent_is_read_back_whole(message: dict[str, Any]) -> None:
    assert read_all(frames.encode(message) * 2) == [message, message, None]


def test_large_frames_are_compressed_and_small_ones_not() -> None:
    small, large = frames.encode({"a": "x"}), frames.encode({"a": "x" * 10_000})
    assert HEADER.unpack(small[:HEADER.size])[1] == 0
    size, flags = HEADER.unpack(large[:HEADER.size])
    assert flags == COMPRESSED and size < 1000


def test_a_message_larger_than_a_frame_may_be_is_refused_before_sending() -> None:
    with pytest.raises(ProtocolError, match="larger than a frame"):
        frames.encode({"a": "x" * (MAX_FRAME + 1)})


@pytest.mark.parametrize(("data", "problem"), [
    (HEADER.pack(10, 0)[:3], "inside a frame's header"),
    (HEADER.pack(10, 0) + b"{}", "inside a frame"),
    (HEADER.pack(MAX_FRAME + 1, 0), "larger than allowed"),
    (raw(b"{}", 0x02), "flags 0x02"),
    (raw(b"not json"), "not JSON"),
    (raw(b"\xff\xfe"), "not JSON"),
    (raw(b"[1, 2]"), "holds a list"),
    (raw(b"not zlib", COMPRESSED), "does not inflate"),
    (raw(zlib.compress(b"{}")[:-3], COMPRESSED), "cut short"),
    (raw(zlib.compress(json.dumps({"a": "x" * (MAX_FRAME + 10)}).encode()), COMPRESSED), "inflates past"),
])
def test_what_breaks_the_rules_is_refused(data: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        read_all(data)


def test_a_clean_end_between_frames_is_no_error() -> None:
    assert read_all(b"") == [None]
