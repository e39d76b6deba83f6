"""The keys under which the API keeps its state on the app, and its middlewares leave what they learnt on a
request for its handlers.

aiohttp warns of a plain string key (NotAppKeyWarning, into apsisd's log):
on the app from 3.9, offering web.AppKey; on a request from 3.12, offering
web.RequestKey. Debian 12's aiohttp 3.8 has neither and takes the string.
Each key is the kind this aiohttp takes without a warning.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web


def app_key(name: str, kind: type) -> Any:
    """A key of the app named `name`, for a value of `kind`: web.AppKey where aiohttp has it, else the name."""
    return _key("AppKey", name, kind)


def request_key(name: str, kind: type) -> Any:
    """A key of a request named `name`, for a value of `kind`: web.RequestKey where aiohttp has it, else the name."""
    return _key("RequestKey", name, kind)


def _key(typed: str, name: str, kind: type) -> Any:
    factory = getattr(web, typed, None)
    return name if factory is None else factory(name, kind)
