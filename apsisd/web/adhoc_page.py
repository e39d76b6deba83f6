"""/adhoc: a run of a program of the operator's own, for callers with the right admin only (the others are told
who has it; the menu hides the link from them). The form's program is shell text or an argv (one argument a
line); it is made by the same operation as POST /api/v1/runs with a program (scheduler/operations.py
create_adhoc, vetted by api/adhoc.py's rule), then the page goes to the new run. A program refused is shown on
the form, with what was typed kept.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from apsisd.api import adhoc
from apsisd.api.access import principal_of, refusal, who
from apsisd.api.state import scheduler_of, state_of
from apsisd.errors import InvalidFields
from apsisd.jobs.hosts import LOCAL
from apsisd.quantities import parse_instant
from apsisd.rights import Right
from apsisd.scheduler import operations
from apsisd.web.render import page

routes = web.RouteTableDef()
FIELDS = ("kind", "program", "name", "host", "at")


def _form(request: web.Request, status: int = 200, problem: str | None = None,
          given: dict[str, str] | None = None) -> web.Response:
    principal = principal_of(request)
    allowed = principal.right >= Right.ADMIN
    router = scheduler_of(request).router
    return page(request, "adhoc.html", status=status if allowed else 403, allowed=allowed, problem=problem,
                refused=None if allowed else refusal(principal, Right.ADMIN, state_of(request).policy,
                                                     "run ad hoc programs"),
                given={"kind": "shell", "name": operations.ADHOC, "host": "", "program": "", "at": "", **(given or {})},
                hosts=sorted(router.hosts, key=lambda name: (name != LOCAL, name)), groups=sorted(router.groups))


def program_of(kind: str, text: str) -> Any:
    """The form's program as a job's `program:` value: shell text, or an argv of its non-empty lines."""
    if kind == "exec":
        return [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    return text.replace("\r\n", "\n")


def instant_of(text: str) -> datetime | None:
    """The form's `at` (datetime-local, read as UTC unless it has an offset); None: now."""
    text = text.strip()
    if not text:
        return None
    moment = parse_instant(text if text.endswith("Z") or "+" in text[10:] or text[10:].count("-") else text + "Z")
    return moment.astimezone(UTC)


@routes.get("/adhoc")
async def adhoc_form(request: web.Request) -> web.Response:
    return _form(request)


@routes.post("/adhoc")
async def adhoc_run(request: web.Request) -> web.Response:
    """The run made (303 to its page), or the form again with why not."""
    form = await request.post()
    given = {name: str(form.get(name, "")) for name in FIELDS}
    principal = principal_of(request)
    if principal.right < Right.ADMIN:
        return _form(request, given=given)
    try:
        vet = adhoc.rule(principal, state_of(request).policy)
        at = instant_of(given["at"])
        run = await operations.create_adhoc(scheduler_of(request), program_of(given["kind"], given["program"]),
                                            given["name"].strip() or operations.ADHOC, at, who(request), vet,
                                            host=given["host"] or None)
    except InvalidFields as exc:
        return _form(request, 400, str(exc.under("at")), given)
    except operations.BadArgs as exc:
        return _form(request, 400, str(exc), given)
    except adhoc.NotAllowed as exc:
        return _form(request, 403, str(exc), given)
    raise web.HTTPSeeOther(f"/runs/{run.id}")
