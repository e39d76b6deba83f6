"""The answers that last (the live stream, a run's output), counted per caller and in all: one more than [api]
max_streams_per_caller or max_streams allows is refused (429, or 503 for the total) before anything is read for it.

Each holds a journal reader or a feed subscription and a connection for as long as its client wants: without a
count, one caller could hold them all. Root and apsisd's own user on the socket are not counted (config/api_limits.py).
"""
from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Iterator

from aiohttp import web

from apsisd.api.access import peer, principal_of
from apsisd.api.replies import problem
from apsisd.config.api_limits import ApiLimits


class StreamSlots:
    def __init__(self) -> None:
        self._held: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def slot(self, caller: str | None, limits: ApiLimits) -> Iterator[None]:
        """Within this, `caller` holds one stream (None: a caller not counted); a problem (429, 503) if no slot is
        free."""
        if caller is None:
            yield
            return
        held, total = self._held[caller], self._held.total()
        if held >= limits.max_streams_per_caller:
            raise problem(web.HTTPTooManyRequests, f"{caller} has {held} streams open (live streams and run "
                          f"outputs), as many as [api] max_streams_per_caller allows; close one and try again",
                          **{"Retry-After": "1"})
        if total >= limits.max_streams:
            raise problem(web.HTTPServiceUnavailable, f"apsisd is answering {total} streams (live streams and run "
                          f"outputs), as many as [api] max_streams allows; try again later", **{"Retry-After": "5"})
        self._held[caller] += 1
        try:
            yield
        finally:
            self._held[caller] -= 1
            if not self._held[caller]:
                del self._held[caller]


def counted_as(request: web.Request) -> str | None:
    """Whose stream a request's answer is: the user on the socket (None for root and apsisd's own user), the
    token over TCP."""
    caller = peer(request.transport.get_extra_info("socket") if request.transport else None)
    if caller is None:
        return principal_of(request).name
    return None if caller.uid in (0, os.geteuid()) else f"uid {caller.uid}"
