"""A browser's session over TCP, as a cookie: who it is (the session's token as the tokens file reads now), and the
cookie's own flags.

The cookie `apsis_session` holds the session id (api/sessions.py keeps
its hash). It is HttpOnly (no script reads it), SameSite=Strict (a browser
sends it only with requests another site did not start), Path=/, and Secure
when the page is served over TLS, by apsisd itself or by a reverse proxy
whose https address `[web] origin` names. Its Max-Age is the session's
lifetime; the server ends it anyway at that time.
"""
from __future__ import annotations

import logging

from aiohttp import web

from apsisd.api.access import Principal
from apsisd.api.keys import request_key
from apsisd.api.sessions import Session
from apsisd.api.state import ApiState

log = logging.getLogger("apsisd.api")

COOKIE = "apsis_session"
SESSION = request_key("apsis.session", Session)  # its Session, when a session cookie identified it
CSRF = request_key("apsis.csrf", str)  # its session's form token (None: no session)
MAX_ID = 128  # characters of a cookie's value worth looking up (an id is 43)


def signed_in(request: web.Request, state: ApiState) -> Principal | None:
    """Who the request's session cookie says the caller is: the holder of the session's token, with the lower of
    its right now and at sign-in, or None (no cookie, or one whose session has ended or whose token is gone).
    Sets the request's SESSION and CSRF."""
    session_id = request.cookies.get(COOKIE, "")
    if not session_id or len(session_id) > MAX_ID or state.sessions is None or state.tokens is None:
        return None
    session = state.sessions.find(session_id)
    if session is None:
        return None
    holder = state.tokens.holder(session.token)
    if holder is None:
        state.sessions.end(session_id)
        log.info("web: a session of token %s ended: its token is no longer in the tokens file", session.name,
                 extra={"action": "session_revoked"})
        return None
    request[SESSION] = session
    request[CSRF] = session.csrf
    return Principal(name=f"token {holder.name} (signed in)", right=min(holder.right, session.right))


def session_of(request: web.Request) -> Session | None:
    """The session that identified the request (None: a bearer token, the socket, or no one)."""
    found: Session | None = request.get(SESSION)
    return found


def secure(request: web.Request, state: ApiState) -> bool:
    """Whether the browser reached the page over TLS: apsisd's own, or a proxy's `[web] origin` names."""
    return request.secure or (state.origin or "").startswith("https:")


def give(response: web.StreamResponse, session_id: str, lifetime: float, *, secure: bool) -> None:
    response.set_cookie(COOKIE, session_id, max_age=int(lifetime), path="/", httponly=True, samesite="Strict",
                        secure=secure)


def take_back(response: web.StreamResponse, *, secure: bool) -> None:
    """The cookie cleared in the browser: empty, and expired at once."""
    response.set_cookie(COOKIE, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", path="/", httponly=True,
                        samesite="Strict", secure=secure)
