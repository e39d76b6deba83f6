"""The HTTP API: JSON under /api/v1, on apsisd's Unix socket (and TCP with tokens).

Every answer is JSON, errors included ({"error": "..."} with a 4xx); a
caller is identified and checked before any route runs (api/access.py).
The routes live in api/routes/, one module per subject.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from apsisd.api.access import PRINCIPAL, Right, peer, socket_principal
from apsisd.api.lasting import end_all
from apsisd.api.replies import problem
from apsisd.api.routes import check, events, health, jobs, metrics, openapi, operations, output, runs
from apsisd.api.state import ApiState, attach, state_of

log = logging.getLogger("apsisd.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READING = frozenset({"GET", "HEAD"})


def make_app(state: ApiState) -> web.Application:
    app = web.Application(middlewares=[_errors_as_json, _access], client_max_size=1 << 20)
    attach(app, state)
    app.on_shutdown.append(end_all)
    for module in (health, runs, jobs, operations, output, events, check, openapi, metrics):
        app.add_routes(module.routes)
    return app


@web.middleware
async def _access(request: web.Request, handler: Handler) -> web.StreamResponse:
    caller = peer(request.transport.get_extra_info("socket") if request.transport else None)
    if caller is None:
        raise problem(web.HTTPUnauthorized, "this address needs a bearer token (Authorization: Bearer TOKEN)",
                      **{"WWW-Authenticate": "Bearer"})
    principal = socket_principal(caller, state_of(request).policy)
    needed = Right.READ if request.method in READING else Right.OPERATE
    if principal.right < needed:
        group = state_of(request).policy.group
        if principal.right is Right.NONE:
            raise problem(web.HTTPForbidden, f"not allowed: the API answers root, apsisd's user and the group "
                                             f"{group}")
        raise problem(web.HTTPForbidden, f"not allowed: {principal.name} may read, not operate (operators are "
                                         f"root, apsisd's user and the group {group})")
    request[PRINCIPAL] = principal
    return await handler(request)


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        raise problem(type(exc), exc.reason) from None
    except Exception:
        # A bug: logged whole, answered without its details (a traceback is not for API callers).
        log.exception("API: %s %s failed", request.method, request.path, extra={"action": "api_failed"})
        raise problem(web.HTTPInternalServerError, "internal error; apsisd's log has the details") from None
