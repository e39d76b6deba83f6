"""parse_range(): one byte range of a Range header, or a RangeError saying why not; within(): what it selects;
slice_bytes(): a part of a stream of chunks, read no further than needed; batched(): chunks joined."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from apsisd.api.byte_range import ByteRange, RangeError, batched, parse_range, slice_bytes


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-99", ByteRange(first=0, last=99)),
    ("bytes=5-5", ByteRange(first=5, last=5)),
    ("bytes=100-", ByteRange(first=100)),
    ("bytes=-100", ByteRange(suffix=100)),
    ("bytes=-0", ByteRange(suffix=0)),
    ("Bytes=1-2", ByteRange(first=1, last=2)),  # the unit is case-insensitive
    (" bytes = 7- ", ByteRange(first=7)),
    ("bytes=0-99999999999999999999999", ByteRange(first=0, last=99999999999999999999999)),
])
def test_parse_range(header: str, expected: ByteRange) -> None:
    assert parse_range(header) == expected


@pytest.mark.parametrize(("header", "why"), [
    ("items=0-9", "must be in bytes"),
    ("0-9", "must be in bytes"),
    ("", "must be in bytes"),
    ("bytes=0-9,20-29", "must be one range"),
    ("bytes=-", "must be bytes=0-99"),
    ("bytes=", "must be bytes=0-99"),
    ("bytes=a-b", "must be bytes=0-99"),
    ("bytes=1-2-3", "must be bytes=0-99"),
    ("bytes=-5-", "must be bytes=0-99"),
    ("bytes=+1-2", "must be bytes=0-99"),
    ("bytes=²-3", "must be bytes=0-99"),  # a digit to str.isdigit(), not to HTTP
    ("bytes=9-3", "ends before it begins"),
])
def test_what_is_not_one_byte_range(header: str, why: str) -> None:
    with pytest.raises(RangeError, match=why):
        parse_range(header)


@pytest.mark.parametrize(("header", "total", "selected"), [
    ("bytes=0-99", 1000, (0, 100)),
    ("bytes=0-99", 50, (0, 50)),  # a last byte past the end: to the end
    ("bytes=49-49", 50, (49, 50)),
    ("bytes=50-", 50, None),  # starts past the end: 416
    ("bytes=0-", 0, None),  # nothing is in an empty output
    ("bytes=10-", 50, (10, 50)),
    ("bytes=-10", 50, (40, 50)),
    ("bytes=-100", 50, (0, 50)),  # a suffix longer than it all: all of it
    ("bytes=-0", 50, None),
    ("bytes=-1", 0, None),
])
def test_within(header: str, total: int, selected: tuple[int, int] | None) -> None:
    assert parse_range(header).within(total) == selected


@pytest.mark.parametrize("header", ["bytes=0-99", "bytes=100-", "bytes=-100"])
def test_a_range_reads_as_written(header: str) -> None:
    assert str(parse_range(header)) == header


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(("start", "stop", "expected"), [
    (0, None, [b"abc", b"de", b"fgh"]),
    (2, None, [b"c", b"de", b"fgh"]),
    (3, None, [b"de", b"fgh"]),  # a whole chunk skipped is left out, not sent empty
    (4, None, [b"e", b"fgh"]),
    (8, None, []),
    (100, None, []),
    (0, 1, [b"a"]),
    (1, 4, [b"bc", b"d"]),
    (3, 5, [b"de"]),
    (4, 7, [b"e", b"fg"]),
    (0, 100, [b"abc", b"de", b"fgh"]),
    (5, 5, []),
])
def test_slice_bytes(start: int, stop: int | None, expected: list[bytes]) -> None:
    async def sliced() -> list[bytes]:
        return [chunk async for chunk in slice_bytes(chunks(b"abc", b"", b"de", b"fgh"), start, stop)]

    assert asyncio.run(sliced()) == expected


def test_slice_bytes_reads_no_further_than_its_end() -> None:
    read: list[bytes] = []

    async def source() -> AsyncIterator[bytes]:
        for part in (b"abc", b"def", b"ghi"):
            read.append(part)
            yield part

    async def sliced() -> list[bytes]:
        return [chunk async for chunk in slice_bytes(source(), 1, 6)]

    assert asyncio.run(sliced()) == [b"bc", b"def"]
    assert read == [b"abc", b"def"]


@pytest.mark.parametrize(("size", "expected"), [
    (1, [b"abc", b"de", b"fgh"]),
    (4, [b"abcde", b"fgh"]),
    (100, [b"abcdefgh"]),
])
def test_batched(size: int, expected: list[bytes]) -> None:
    async def joined() -> list[bytes]:
        return [chunk async for chunk in batched(chunks(b"abc", b"", b"de", b"fgh"), size)]

    assert asyncio.run(joined()) == expected
