"""The HTTP API: JSON under /api/v1, on apsisd's Unix socket (and TCP with tokens).

Every answer is JSON, errors included ({"error": "..."} with a 4xx); a
caller is identified and checked before any route runs (api/access.py).
The routes live in api/routes/, one module per subject.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web

from apsisd.api import forgery
from apsisd.api.access import (
    PRINCIPAL,
    READING,
    Principal,
    bearer,
    needed,
    page,
    peer,
    principal_of,
    public,
    refusal,
    socket_principal,
)
from apsisd.api.lasting import end_all
from apsisd.api.limits import Answering
from apsisd.api.replies import problem
from apsisd.api.routes import check, events, health, hosts, jobs, metrics, openapi, operations, output, runs
from apsisd.api.session_cookie import COOKIE, secure, session_of, signed_in, take_back
from apsisd.api.state import STARTED, ApiState, attach, state_of
from apsisd.api.tokens import TokenStore
from apsisd.errors import StoreError
from apsisd.rights import Right

log = logging.getLogger("apsisd.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_ONE = Principal(name="no one (not signed in)", right=Right.NONE)  # a TCP caller without credentials, on PUBLIC


def make_app(state: ApiState) -> web.Application:
    app = web.Application(middlewares=[_answering, _errors_as_json, _access, _received, _form_token],
                          client_max_size=1 << 20)
    attach(app, state)
    app.on_shutdown.append(end_all)
    for module in (health, runs, jobs, operations, output, events, check, hosts, openapi, metrics):
        app.add_routes(module.routes)
    return app


@web.middleware
async def _answering(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While a request is answered its connection is not idle (the connection's clocks: daemon/connection.py); when
    it began is kept, and said in the answer's Server-Timing (the handler's time, from the request's arrival)."""
    request[STARTED] = time.perf_counter()
    connection = request.transport.get_protocol() if request.transport is not None else None
    with connection.answering() if isinstance(connection, Answering) else contextlib.nullcontext():
        response = await handler(request)
    if not response.prepared:  # an answer sent whole: its server time is known (a stream's is not)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - request[STARTED]) * 1000:.1f}"
    return response


@web.middleware
async def _received(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request's body read whole within [api] request_timeout, before its route runs: a client that sends it a
    byte at a time does not hold a connection and a handler for ever."""
    if request.body_exists and request.method in READING:
        # No reading route takes a body: buffering one would pin up to client_max_size for as long as a
        # stream lasts, for any reader.
        raise problem(web.HTTPBadRequest, f"{request.method} takes no body", Connection="close")
    if request.body_exists:
        timeout = state_of(request).limits.request_timeout
        try:
            async with asyncio.timeout(timeout):
                await request.read()
        except TimeoutError:
            raise problem(web.HTTPRequestTimeout, f"the request's body did not arrive within {timeout:g} s "
                                                  "([api] request_timeout)", Connection="close") from None
        except ConnectionError:  # the client hung up: its answer goes nowhere, and is no error of apsisd's
            raise problem(web.HTTPBadRequest, "the connection was lost before the request's body had come",
                          Connection="close") from None
    return await handler(request)


@web.middleware
async def _access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who calls (the socket's peer; over TCP a bearer token or a session cookie), whether they may do what they
    ask, and whether another site made their browser ask it (api/forgery.py)."""
    state = state_of(request)
    if request.method not in READING and (forged := forgery.cross_site(request, state.origin)) is not None:
        log.warning("API: %s %r refused: %s", request.method, request.path, forged, extra={"action": "cross_site"})
        raise _closing(problem(web.HTTPForbidden, forged))
    caller = peer(request.transport.get_extra_info("socket") if request.transport else None)
    if caller is not None and (rebound := forgery.rebound(request, state.origin)) is not None:
        log.warning("API: %s %r refused: %s", request.method, request.path, rebound, extra={"action": "cross_site"})
        raise _closing(problem(web.HTTPForbidden, rebound))
    principal = _tcp_caller(request, state) if caller is None else socket_principal(caller, state.policy)
    needs = needed(request.method, request.path)
    if principal.right < needs:
        raise _closing(problem(web.HTTPForbidden, refusal(principal, needs, state.policy)))
    request[PRINCIPAL] = principal
    return await handler(request)


def _tcp_caller(request: web.Request, state: ApiState) -> Principal:
    """A TCP caller: the bearer token's holder if it sends one, else its session's; without either, no one on the
    public paths, sent to sign in on the page's, refused on the API's (401, as to a program without a token)."""
    if "Authorization" in request.headers:
        return _token_holder(request, state.tokens)
    found = signed_in(request, state)
    if found is not None:
        return found
    if public(request.path):
        return NO_ONE
    if page(request.path):
        query = "" if request.method not in READING else "?" + urlencode({"next": request.path_qs})
        sent = web.HTTPSeeOther(f"/login{query}", headers={"Cache-Control": "no-store"})
        if COOKIE in request.cookies:  # an ended session's: the browser may forget it
            take_back(sent, secure=secure(request, state))
        raise sent
    return _token_holder(request, state.tokens)  # none: 401


def _token_holder(request: web.Request, tokens: TokenStore | None) -> Principal:
    """The principal of the request's bearer token; 401 without one the tokens file holds (never logged)."""
    token = bearer(request.headers.get("Authorization"))
    if token is None:
        raise _closing(problem(web.HTTPUnauthorized, "this address needs a bearer token (Authorization: Bearer "
                                                     "TOKEN)", **{"WWW-Authenticate": "Bearer"}))
    principal = tokens.principal(token) if tokens is not None else None
    if principal is None:
        raise _closing(problem(web.HTTPUnauthorized, "the bearer token is not valid: unknown, or revoked",
                               **{"WWW-Authenticate": 'Bearer error="invalid_token"'}))
    return principal


@web.middleware
async def _form_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A state-changing request a session cookie vouches for carries the session's form token (api/forgery.py),
    read once its body has come; the sign-in page's own requests aside (it begins a session, whoever asks)."""
    session = session_of(request)
    if session is not None and request.method not in READING and not public(request.path):
        refused = await forgery.without_token(request, session)
        if refused is not None:
            log.warning("API: %s %r of %s refused: %s", request.method, request.path, principal_of(request).name,
                        refused, extra={"action": "no_form_token"})
            raise _closing(problem(web.HTTPForbidden, refused))
    return await handler(request)


def _closing(refused: web.HTTPException) -> web.HTTPException:
    """A refusal that ends its connection: a caller without the right must not hold one open by asking again
    and again within the idle timeout (each would count against the connection caps of those who have it)."""
    refused.force_close()
    return refused


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type in ("application/json", "text/html") or exc.status < 400:
            raise  # the API's own, or the web page's (apsisd/web/render.py refusal)
        # aiohttp's own (404, 405 with its Allow header, 413): the same answer, in JSON. Made anew, a 405 would need
        # the arguments only aiohttp had, and fail as a 500.
        exc.content_type, exc.text = "application/json", json.dumps({"error": exc.reason})
        raise
    except StoreError as exc:  # nothing was changed: the caller may try again once the state can be written
        raise problem(web.HTTPServiceUnavailable, f"{exc}; nothing was changed: try again once apsisd's health is "
                                                  "ok") from None
    except Exception:
        # A bug: logged whole, answered without its details (a traceback is not for API callers).
        log.exception("API: %s %r failed", request.method, request.path, extra={"action": "api_failed"})
        raise problem(web.HTTPInternalServerError, "internal error; apsisd's log has the details") from None
