"""Pages as HTML: the one Jinja2 environment (autoescaped: every value a page shows is text, never markup), the
context every page shares (who is signed in, with what right, the form token), and the headers every page is
sent with.

The Content-Security-Policy allows scripts, styles and connections to apsisd's own origin only: the page's code
is the hand-written modules under static/, and a job's description (Markdown) or a run's output can hold no
script that runs, even were the escaping wrong somewhere.
"""
from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web
from jinja2.runtime import Context
from markupsafe import Markup

from apsisd.api.access import principal_of
from apsisd.api.session_cookie import CSRF  # the request's key for its session's form token (None: no session)
from apsisd.rights import Right
from apsisd.runs.model import Run
from apsisd.web import run_rows, views

ENV = jinja2.Environment(loader=jinja2.PackageLoader("apsisd.web", "templates"),
                         autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined,
                         trim_blocks=True, lstrip_blocks=True)
ENV.filters.update(views.FILTERS)


@jinja2.pass_context
def _late_mark(context: Context, run: Run) -> Markup:
    return Markup(run_rows.late(run, context["now"]))


@jinja2.pass_context
def _elapsed(context: Context, run: Run) -> Markup:
    return Markup(run_rows.elapsed(run, context["now"]))


# A run's parts, written as the runs table writes them (web/run_rows.py), for the pages that show runs otherwise.
ENV.globals.update(
    Right=Right, late_mark=_late_mark, elapsed=_elapsed,
    when=lambda moment, zone=None: Markup(run_rows.when(moment, zone)),
    state_badge=lambda run: Markup(run_rows.state(run)),
    origin_tag=lambda run: Markup(run_rows.origin(run)),
    outcome=lambda run: Markup(run_rows.outcome(run)))
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
SPLICE = "<!--apsis:spliced-->"  # where a template puts a part of its page made elsewhere (page's `spliced`)


def page(request: web.Request, template: str, status: int = 200, spliced: str = "", **context: Any) -> web.Response:
    """`template` rendered with `context` and what every page shows (its server time is said by api/app.py).

    `seq`, when given, is the number of the last change the page shows (the live stream's, read before the page's
    data): its scripts follow the stream from there, so a change made while the page was read is not missed.

    `spliced`: HTML made (and escaped) by the caller, put where the template writes SPLICE: a part of megabytes
    (the jobs page's tree) is put in once, rather than copied by Jinja2's escaping of Markup (25 ms for 5 MB)."""
    principal = principal_of(request)
    context.setdefault("seq", None)
    html = ENV.get_template(template).render(
        **context, who=principal.name, right=principal.right, csrf=request.get(CSRF), here=request.path_qs,
        section=request.path.split("/")[1] or "runs", SPLICE=SPLICE)
    if spliced:
        html = html.replace(SPLICE, spliced, 1)
    return web.Response(text=html, content_type="text/html", status=status, headers=HEADERS)


def refusal(request: web.Request, status: type[web.HTTPException], title: str, message: str,
            links: list[str] | None = None) -> web.HTTPException:
    """An error as a page (not the API's JSON): what went wrong, in words, with the way back (and `links`: the
    jobs an unknown job's id is like, each a link to its page)."""
    shown = page(request, "error.html", status=status.status_code, title=title, message=message, links=links or [])
    return status(text=shown.text, content_type="text/html", headers=HEADERS)
