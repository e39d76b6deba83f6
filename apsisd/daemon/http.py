"""The daemon's one HTTP client, for webhooks: aiohttp's errors become OSError, as the action contract says.

Redirects are not followed: a webhook that answers 3xx has moved, and the
operator should be told (the action counts it as a failure) rather than
have the run's JSON posted wherever the answer points.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp


class JsonPoster:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, url: str, body: Any, *, headers: Mapping[str, str]) -> int:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(url, json=body, headers=dict(headers), allow_redirects=False) as response:
                return response.status
        except aiohttp.InvalidURL as exc:  # one name on any aiohttp (newer ones raise a subclass of it)
            raise OSError(f"InvalidURL: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
