"""GET /api/v1/openapi.json: the OpenAPI document of this API (api/openapi.yaml), as JSON.

The document is written by hand and held to the code by tests: every route
is in it and it has no route the app lacks (tests/unit/api), and the API is
driven from it against a real apsisd (tests/integration/test_api_openapi.py).
"""
from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

import yaml
from aiohttp import web

from apsisd.api.replies import check_params

routes = web.RouteTableDef()


@functools.cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(files("apsisd.api").joinpath("openapi.yaml").read_text())
    return loaded


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    check_params(request, ())
    return web.json_response(document())
