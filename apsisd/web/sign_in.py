"""/login and /logout: a browser over TCP signs in once with an API token and is then known by a session cookie
(api/session_cookie.py) until the session ends; signing out ends it in apsisd, not only in the browser.

The token is checked against the tokens file as a bearer token is; a wrong one is answered with the form again
(401), saying only that the token is not valid: not whether it was close, nor which part was wrong. Nothing
here logs a token. `next` is where the browser goes once signed in: only a path of apsisd's own, so a link to
the sign-in page cannot send an operator elsewhere.

A link followed from another site (a chat message, an alert mail) is sent without the session cookie (it is
SameSite=Strict), and lands here though the browser is signed in: the page then reloads itself once, a request
of apsisd's own page that carries the cookie, and goes on if there is a session.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aiohttp import web

from apsisd.api.access import principal_of
from apsisd.api.session_cookie import COOKIE, give, secure, session_of, take_back
from apsisd.api.state import state_of
from apsisd.rights import Right
from apsisd.tokens_file import digest
from apsisd.web.render import page

log = logging.getLogger("apsisd.web")
routes = web.RouteTableDef()
HOME = "/"
MAX_NEXT = 2000  # characters of a `next` worth keeping
MAX_TOKEN = 256  # characters of a pasted token worth hashing (a token is 43)
WRONG = ("That token is not valid: apsisd does not know it, or it was revoked. Paste a token whose line is in "
         "apsisd's tokens file (apsis token new NAME makes one).")


def destination(text: str | None) -> str:
    """Where to go once signed in: `text` if it is a path of apsisd's own (not the sign-in or sign-out page), else
    the home page."""
    if not text or len(text) > MAX_NEXT or not text.startswith("/") or text.startswith(("//", "/\\")):
        return HOME
    if any(ord(char) < 0x21 or char in "\\\x7f" for char in text):
        return HOME
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return HOME
    return text


@routes.get("/login")
async def sign_in_form(request: web.Request) -> web.Response:
    """The form; a caller already known (a session, the socket, a token) goes on to `next` at once."""
    going = destination(request.query.get("next"))
    if principal_of(request).right > Right.NONE:
        raise web.HTTPSeeOther(going, headers={"Cache-Control": "no-store"})
    from_elsewhere = request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site"
    shown = page(request, "login.html", next=going, message=None, reload=from_elsewhere, lifetime=_lifetime(request))
    if COOKIE in request.cookies:  # an ended session's: the browser may forget it
        take_back(shown, secure=secure(request, state_of(request)))
    return shown


@routes.post("/login")
async def sign_in(request: web.Request) -> web.Response:
    state = state_of(request)
    form = await request.post()
    going = destination(_text(form.get("next")))
    if principal_of(request).caller is not None:  # on the socket: the caller is known already, without a session
        raise web.HTTPSeeOther(going, headers={"Cache-Control": "no-store"})
    token = _text(form.get("token")).strip().removeprefix("Bearer ").strip()
    holder = None
    if state.sessions is not None and state.tokens is not None and 0 < len(token) <= MAX_TOKEN:
        holder = state.tokens.holder(digest(token))
    if holder is None or state.sessions is None:
        log.warning("web: a sign-in from %s was refused: the token is not in the tokens file", request.remote,
                    extra={"action": "sign_in_refused"})
        return page(request, "login.html", status=401, next=going, message=WRONG, reload=False,
                    lifetime=_lifetime(request))
    earlier = session_of(request)
    if earlier is not None:  # signing in again, maybe with another token: the session before ends
        state.sessions.end(request.cookies[COOKIE])
    session_id, session = state.sessions.begin(digest(token), holder)
    log.info("web: token %s signed in from %s (%s), until %s", holder.name, request.remote, holder.right.word,
             _instant(session.ends), extra={"action": "signed_in"})
    sent = web.HTTPSeeOther(going, headers={"Cache-Control": "no-store"})
    give(sent, session_id, state.sessions.lifetime, secure=secure(request, state))
    raise sent


@routes.post("/logout")
async def sign_out(request: web.Request) -> web.Response:
    """The session ended in apsisd (its cookie is then worth nothing, wherever a copy of it is) and in the
    browser."""
    state = state_of(request)
    session = session_of(request)
    if session is not None and state.sessions is not None:
        state.sessions.end(request.cookies[COOKIE])
        log.info("web: token %s signed out", session.name, extra={"action": "signed_out"})
    sent = web.HTTPSeeOther("/login", headers={"Cache-Control": "no-store"})
    take_back(sent, secure=secure(request, state))
    raise sent


def _lifetime(request: web.Request) -> str | None:
    """How long a session lasts, in words: "12 hours", "90 minutes"."""
    sessions = state_of(request).sessions
    if sessions is None:
        return None
    seconds = round(sessions.lifetime)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _instant(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
