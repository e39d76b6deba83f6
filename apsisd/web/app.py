"""The web page's routes, added to the API's app: the same addresses, the same access check, no second server.

Static files (the stylesheet, the modules, the icon) are the package's own, served with the page's headers; they
may be cached for a short while, as they change only with apsisd.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from apsisd.api.access import PRINCIPAL, Principal, page
from apsisd.errors import StoreError
from apsisd.rights import Right
from apsisd.web import adhoc_page, control_page, hosts_page, job_page, jobs_page, memo, run_page, runs_page, sign_in
from apsisd.web.render import HEADERS, refusal

log = logging.getLogger("apsisd.web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATIC = Path(__file__).parent / "static"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
FILES = {path.name: path.read_bytes() for path in STATIC.iterdir() if path.suffix in TYPES}  # read once: a few KiB
routes = web.RouteTableDef()
UNKNOWN = Principal(name="not known (refused before it was asked)", right=Right.NONE)  # a refusal page's caller


def install(app: web.Application) -> None:
    for module in (runs_page, run_page, sign_in, jobs_page, job_page, adhoc_page, control_page, hosts_page):
        app.add_routes(module.routes)
    app.add_routes(routes)
    app.middlewares.insert(0, _refusals_as_pages)  # outermost: around the API's access checks
    app.middlewares.append(_errors_as_pages)
    memo.install(app)


@web.middleware
async def _errors_as_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page's failure as a page (the API's stay JSON, api/app.py): a bug logged whole and shown without its
    details; a store that cannot be read or written, as what to wait for."""
    if request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except StoreError as exc:
        raise refusal(request, web.HTTPServiceUnavailable, "apsisd cannot read its state",
                      f"{exc}. Nothing was changed; reload the page once apsisd's health is ok.") from None
    except Exception:
        log.exception("web: %s %r failed", request.method, request.path, extra={"action": "web_failed"})
        raise refusal(request, web.HTTPInternalServerError, "Something went wrong",
                      "This is a bug in apsisd; its log has the details.") from None


@web.middleware
async def _refusals_as_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The access checks' refusals (api/app.py: a request another site forged, a form without its session's form
    token, too low a right) at a page's address, as a page: a browser shows the API's JSON as bare text, and a
    stale tab's form (its session ended, another begun) is refused so. The API's addresses keep the JSON."""
    try:
        return await handler(request)
    except web.HTTPForbidden as exc:
        if not page(request.path) or exc.content_type != "application/json":
            raise
        if PRINCIPAL not in request:
            request[PRINCIPAL] = UNKNOWN
        shown = refusal(request, web.HTTPForbidden, "Refused", str(json.loads(exc.text or "{}").get("error", "")))
        if not exc.keep_alive:
            shown.force_close()
        raise shown from None


@routes.get("/favicon.svg")
async def favicon(request: web.Request) -> web.Response:
    return _file("favicon.svg")


@routes.get(r"/static/{name:[a-z_-]+\.(js|css|svg)}")
async def static(request: web.Request) -> web.Response:
    return _file(request.match_info["name"])


def _file(name: str) -> web.Response:
    body = FILES.get(name)
    if body is None:
        raise web.HTTPNotFound()
    return web.Response(body=body, content_type=TYPES[Path(name).suffix],
                        headers={**HEADERS, "Cache-Control": "max-age=300"})
