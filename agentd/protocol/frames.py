"""Frames on agentd's stdio: a length, a flag byte, then one JSON object, compressed when it is large.

SSH carries bytes, not messages: each frame says how long it is, so a reader
never guesses where one ends. Output is most of what crosses, and runs of log
lines compress well; small frames are not worth the CPU. A frame's size is
capped both ways (as sent and as inflated), so a peer gone wrong cannot make
the other side hold more than MAX_FRAME bytes for one message.
"""
from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from agentd.errors import HostError

HEADER = struct.Struct(">IB")  # length of what follows, flags
COMPRESSED = 0x01
COMPRESS_FROM = 4096  # bytes of JSON from which a frame is compressed
MAX_FRAME = 16 * 1024 * 1024  # bytes of one message, as sent and as inflated


class ProtocolError(HostError):
    """The peer sent what the protocol does not allow: the connection cannot be trusted further."""


def encode(message: Mapping[str, Any]) -> bytes:
    """One frame holding `message`."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"a message of {len(body):,} bytes is larger than a frame may be ({MAX_FRAME:,})")
    flags = 0
    if len(body) >= COMPRESS_FROM:
        packed = zlib.compress(body, 1)
        if len(packed) < len(body):
            body, flags = packed, COMPRESSED
    return HEADER.pack(len(body), flags) + body


async def read(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None when the stream ended cleanly between frames."""
    try:
        head = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError("the stream ended inside a frame's header") from None
    size, flags = HEADER.unpack(head)
    if size > MAX_FRAME:
        raise ProtocolError(f"a frame of {size:,} bytes is larger than allowed ({MAX_FRAME:,})")
    if flags & ~COMPRESSED:
        raise ProtocolError(f"a frame has flags {flags:#04x} this side does not know")
    try:
        body = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise ProtocolError("the stream ended inside a frame") from None
    if flags & COMPRESSED:
        body = _inflate(body)
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"a frame is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a frame holds a {type(message).__name__}, not an object")
    return message


def _inflate(body: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(body, MAX_FRAME)
    except zlib.error as exc:
        raise ProtocolError(f"a compressed frame does not inflate: {exc}") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise ProtocolError(f"a compressed frame inflates past {MAX_FRAME:,} bytes, or is cut short")
    return data
