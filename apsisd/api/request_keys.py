"""The keys under which the API's middlewares leave what they learnt on a request for its handlers.

aiohttp 3.12 and later warn of a plain string key (NotAppKeyWarning, once
per place, into apsisd's log) and offer web.RequestKey; Debian 12's aiohttp
3.8 has no RequestKey and takes the string. Each key is the one this aiohttp
takes without a warning.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web


def request_key(name: str, kind: type) -> Any:
    """A request key named `name` for a value of `kind`: web.RequestKey where aiohttp has it, else the name."""
    factory = getattr(web, "RequestKey", None)
    return name if factory is None else factory(name, kind)
