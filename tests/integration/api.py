"""Calling apsisd's API over its Unix socket from tests: JSON requests, and the live stream's events."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

SOCKET = "/run/apsis/api.sock"


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET))


async def get(path: str) -> tuple[int, Any]:
    async with session() as client, client.get(f"http://apsis{path}") as response:
        return response.status, await response.json()


async def post(path: str, body: Any = None) -> tuple[int, Any]:
    async with session() as client, client.post(f"http://apsis{path}", json=body) as response:
        return response.status, await response.json()


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: Any
    id: int | None


class Stream:
    """An open GET /api/v1/events: its events one at a time."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.last_id: int | None = None

    async def next(self) -> Event:
        name, data, seq = "message", "", None
        while True:
            raw = await self.response.content.readline()
            if not raw:
                raise EOFError("the stream ended")
            line = raw.decode().rstrip("\n")
            if line == "" and data:
                if seq is not None:
                    self.last_id = seq
                return Event(name, json.loads(data), seq)
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data += value
            elif field == "id":
                seq = int(value)

    async def until(self, name: str, check: Any = lambda data: True) -> list[Event]:
        """Every event up to and including the first `name` event whose data passes `check`."""
        seen = []
        while True:
            event = await self.next()
            seen.append(event)
            if event.name == name and check(event.data):
                return seen


@asynccontextmanager
async def events(query: str = "", last_id: int | None = None) -> AsyncIterator[Stream]:
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    async with session() as client, client.get(f"http://apsis/api/v1/events{query}", headers=headers,
                                              timeout=aiohttp.ClientTimeout(total=None)) as response:
        assert response.status == 200, await response.text()
        yield Stream(response)
