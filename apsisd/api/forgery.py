"""Requests another site makes a browser send (cross-site request forgery), refused before they change anything.

Two checks, for every request that may change something (any method but
GET and HEAD):

- Whoever it comes from, one whose `Origin` header is not the request's
  own origin (its scheme and Host) nor `[web] origin`, or that the browser
  says another site started (`Sec-Fetch-Site: cross-site`), is refused.
  Browsers send these headers and pages cannot forge them; programs (the
  CLI, curl, a CI job) send neither. This guards the socket too: a browser
  may reach it through `ssh -L`, and there no cookie or token is needed.
- One a session cookie vouches for must also carry the session's form token
  (a form's field `csrf`, or the header `X-Apsis-CSRF` for the page's
  scripts): the cookie goes with every request the browser makes to
  apsisd, the token only with those the page itself makes.

A bearer token or the socket needs no form token: no browser sends either
of its own accord.

On the socket, a browser's request (one with an `Origin` or `Sec-Fetch-*`
header) must also name a loopback host (`localhost`, `127.0.0.1`, `[::1]`)
or `[web] origin`'s: a page of another site that makes its own name
resolve to 127.0.0.1 (DNS rebinding) is of the same origin as the tunnel
to the browser, and the name it was sent to is all that tells it apart.
"""
from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from aiohttp import web

from apsisd.api.sessions import Session
from apsisd.config.listen import loopback
from apsisd.config.origin import origin

HEADER = "X-Apsis-CSRF"
FIELD = "csrf"


def own_origin(request: web.Request) -> str | None:
    """The origin the request was sent to, as the browser would name it: its scheme and Host."""
    return origin(f"{request.scheme}://{request.host}")


def cross_site(request: web.Request, configured: str | None) -> str | None:
    """Why a state-changing request is refused as another site's (a 403's message), or None if it is not one."""
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return "refused: another site made the browser send this request (Sec-Fetch-Site: cross-site)"
    sent = request.headers.get("Origin")
    if sent is None:
        return None
    own = own_origin(request)
    if origin(sent) in ({own} | ({configured} if configured else set())) - {None}:
        return None
    shown = sent if len(sent) <= 100 else sent[:100] + "..."
    return (f"refused: the request comes from the page of {shown!r}, not from apsisd's own ({own or 'unknown'}); "
            "behind a reverse proxy, set [web] origin to the address browsers open (docs/web.md, Signing in)")


def rebound(request: web.Request, configured: str | None) -> str | None:
    """Why a browser's request on the socket is refused for the name it was sent to (a 403's message), or None if
    it names this machine's loopback (or is no browser's)."""
    if not any(header in request.headers for header in ("Origin", "Sec-Fetch-Site", "Sec-Fetch-Mode")):
        return None
    try:
        host = urlsplit(f"//{request.host}").hostname or ""
    except ValueError:
        host = ""
    if loopback(host) or host.endswith(".localhost") or (configured and urlsplit(configured).hostname == host):
        return None
    return (f"refused: a browser reached apsisd's socket by the name {host[:100]!r}; through a tunnel (ssh -L), "
            "open it as http://localhost:PORT")


async def without_token(request: web.Request, session: Session) -> str | None:
    """Why a state-changing request of `session` is refused for want of its form token, or None if it has it.

    The body was read whole before (api/app.py's _received)."""
    sent = request.headers.get(HEADER)
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.post()).get(FIELD)
        sent = value if isinstance(value, str) else None
    if sent is None:
        return ("refused: a signed-in browser's request must carry the page's form token (field csrf, or header "
                f"{HEADER}); reload the page and try again")
    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        return "refused: the page's form token is not this session's; reload the page and try again"
    return None
