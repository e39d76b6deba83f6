"""One byte range of a `Range` header (RFC 9110, 14.1.2), and what it selects of bytes of a known length or of a
stream of them.

Pure: the output endpoint reads the header through parse_range(), measures the output, and answers 416, or 206
with slice_bytes() of the output as it is read (never the whole output in memory).
"""
from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

_SPEC = re.compile(r"(\d*)-(\d*)", re.ASCII)
EXAMPLES = "bytes=0-99 (the first 100 bytes), bytes=100- (from byte 100 on) or bytes=-100 (the last 100)"


class RangeError(ValueError):
    """The header is not one byte range; str() says what is allowed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ByteRange:
    """Bytes `first` to `last` (inclusive; `last` None: to the end), or the last `suffix` bytes."""

    first: int | None = None
    last: int | None = None
    suffix: int | None = None

    def within(self, total: int) -> tuple[int, int] | None:
        """The [start, stop) it selects of `total` bytes, or None when it selects nothing (answered with 416)."""
        if self.suffix is not None:
            return (max(0, total - self.suffix), total) if self.suffix > 0 and total > 0 else None
        assert self.first is not None
        if self.first >= total:
            return None
        return self.first, total if self.last is None else min(self.last + 1, total)

    def __str__(self) -> str:
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        return f"bytes={self.first}-{'' if self.last is None else self.last}"


def parse_range(header: str) -> ByteRange:
    """The one range of a `Range` header; RangeError for another unit, several ranges or a malformed one."""
    unit, equals, spec = header.strip().partition("=")
    if not equals or unit.strip().lower() != "bytes":
        raise RangeError(f"Range must be in bytes, such as {EXAMPLES}; not {header!r}")
    spec = spec.strip()
    if "," in spec:
        raise RangeError(f"Range must be one range, such as {EXAMPLES}; not several ({header!r})")
    match = _SPEC.fullmatch(spec)
    if match is None or match.group(1) == match.group(2) == "":
        raise RangeError(f"Range must be {EXAMPLES}; not {header!r}")
    first, last = (int(text) if text else None for text in match.groups())
    if first is None:
        return ByteRange(suffix=last)
    if last is not None and last < first:
        raise RangeError(f"Range {header!r} ends before it begins; the last byte must not come before the first")
    return ByteRange(first=first, last=last)


async def slice_bytes(chunks: AsyncIterator[bytes], start: int, stop: int | None = None
                      ) -> AsyncGenerator[bytes, None]:
    """Bytes `start` to `stop` (exclusive; None: to the end) of a stream of chunks, as they come: a chunk partly
    outside is cut, empty ones are left out, and nothing is read past `stop` (the caller closes the source)."""
    offset = 0
    async for chunk in chunks:
        end = offset + len(chunk)
        if end > start:
            part = chunk[max(0, start - offset):len(chunk) if stop is None else max(0, stop - offset)]
            if part:
                yield part
        offset = end
        if stop is not None and offset >= stop:
            return


async def batched(chunks: AsyncIterator[bytes], size: int) -> AsyncGenerator[bytes, None]:
    """The chunks joined into pieces of at least `size` bytes (the last may be shorter): a few large writes to the
    client rather than one per line of output."""
    pending: list[bytes] = []
    held = 0
    async for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if held:
        yield b"".join(pending)
