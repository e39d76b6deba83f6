"""Answers and the reading of requests: every error is JSON with a 4xx that says what is wrong and what is allowed.

Handlers raise `problem(...)`; query parameters and JSON bodies are read
through the helpers here, so each refusal is worded the same way.
"""
from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from aiohttp import web

from agentd.types import RunId
from apsisd.api.json_body import read_json
from apsisd.errors import UnknownRun
from apsisd.runs.model import Run
from apsisd.scheduler import operations
from apsisd.scheduler.service import Scheduler

MAX_BODY = 1 << 20  # bytes of a JSON body: a run's args and an ad hoc program fit many times over
DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def shown(text: str, most: int = 60) -> str:
    """repr(text) for a message, cut to `most` characters: a refusal need not echo 4,000 digits back."""
    quoted = repr(text)
    return quoted if len(quoted) <= most else f"{quoted[:most]}... ({len(text):,} characters)"


def problem(status: type[web.HTTPException], message: str, **headers: str) -> web.HTTPException:
    """The exception to raise for a refusal: `{"error": message}` with `status`."""
    return status(text=web.json_response({"error": message}).text, content_type="application/json",
                  headers=headers or None)


def check_params(request: web.Request, allowed: Collection[str]) -> None:
    """400 for a query parameter the endpoint does not take (a typo must not be ignored)."""
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        names = ", ".join(sorted(allowed)) or "none"
        raise problem(web.HTTPBadRequest, f"unknown parameter {unknown[0]!r}; this endpoint takes: {names}")


def single(request: web.Request, name: str) -> str | None:
    """The parameter's value (None when absent); 400 when it is given twice, as which one was meant is unknown."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise problem(web.HTTPBadRequest, f"{name} may be given once, not {len(values)} times")
    return values[0] if values else None


def decimal(text: str) -> int | None:
    """The whole number `text` writes in at most 19 ASCII digits (below SQLite's and D-Bus's largest); None for
    anything else. int() would also take '²', '٣', '1_000', ' 5 ' and, slowly, thousands of digits."""
    return int(text) if DIGITS.fullmatch(text) else None


def whole(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = single(request, name)
    if text is None:
        return default
    value = decimal(text)
    if value is None or not low <= value <= high:
        raise problem(web.HTTPBadRequest, f"{name} must be a whole number from {low:,} to {high:,}, not "
                                          f"{shown(text)}")
    return value


def flag(request: web.Request, name: str) -> bool:
    text = single(request, name)
    if text is None:
        return False
    if text not in ("0", "1", "true", "false"):
        raise problem(web.HTTPBadRequest, f"{name} must be 1 or 0 (true or false), not {text!r}")
    return text in ("1", "true")


async def json_object(request: web.Request, fields: Collection[str], example: str) -> dict[str, Any]:
    """The body as a JSON object with only `fields`; 400 naming what is wrong otherwise."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise problem(web.HTTPRequestEntityTooLarge, f"the body is larger than {MAX_BODY:,} bytes")
    try:
        body = read_json(await request.read())
    except ValueError as exc:
        raise problem(web.HTTPBadRequest, f"the body is not JSON as apsisd reads it: {exc}; send an object such as "
                                          f"{example}") from None
    if not isinstance(body, dict):
        raise problem(web.HTTPBadRequest, f"the body must be a JSON object, such as {example}")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise problem(web.HTTPBadRequest, f"unknown field {shown(unknown[0])}; use {', '.join(fields)}")
    return body


async def the_run(request: web.Request, scheduler: Scheduler) -> Run:
    """The run of the path's {run_id}, as it is now; 404 for a run never recorded."""
    run_id = RunId(request.match_info["run_id"])
    try:
        return await operations.current(scheduler, run_id)
    except UnknownRun:
        raise problem(web.HTTPNotFound, f"no run {run_id}") from None
