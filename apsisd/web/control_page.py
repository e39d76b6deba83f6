"""/control: apsisd as a whole: its health and version (what GET /api/v1/health says), the jobs folder's
problems, the sanity report of `apsis check` (scheduler/check.py, as GET /api/v1/check), and the reload:
GET /control/reload reads the jobs folder and shows what would change, without changing anything (a dry run);
its Apply button (POST, for callers who may operate) reloads and shows what was done.
"""
from __future__ import annotations

from aiohttp import web

from apsisd.api.access import principal_of
from apsisd.api.routes.health import health_report
from apsisd.api.state import scheduler_of, state_of
from apsisd.rights import Right
from apsisd.scheduler.check import sanity
from apsisd.scheduler.reload import ReloadResult
from apsisd.web.render import page

routes = web.RouteTableDef()
LATE = 60  # seconds after its time a run counts as late (apsis check's default)
WINDOW = 86_400  # how far back late runs are looked for
LISTED = 200  # runs or problems listed at most in each part of the report


@routes.get("/control")
async def control(request: web.Request) -> web.Response:
    scheduler = scheduler_of(request)
    health, working = health_report(scheduler, state_of(request).started)
    report = await sanity(scheduler, late=LATE, window=WINDOW)
    return page(request, "control.html", health=health, working=working, report=report, late=LATE,
                problems=[str(problem) for problem in scheduler.jobs.problems[:LISTED]],
                held=sorted(scheduler.jobs.held)[:LISTED], listed=LISTED,
                operating=principal_of(request).right >= Right.OPERATE)


@routes.get("/control/reload")
async def dry_run(request: web.Request) -> web.Response:
    """What a reload would change, read now; nothing is changed."""
    result = await state_of(request).reload(dry_run=True)
    return _result(request, result, applying=False)


@routes.post("/control/reload")
async def apply(request: web.Request) -> web.Response:
    """Reload (the access check has made sure of the right and the form's token), and show what was done."""
    result = await state_of(request).reload(dry_run=False)
    return _result(request, result, applying=True)


def _result(request: web.Request, result: ReloadResult, *, applying: bool) -> web.Response:
    return page(request, "reload.html", status=422 if result.errors else 200, result=result, applying=applying,
                changes=len(result.added) + len(result.changed) + len(result.removed),
                operating=principal_of(request).right >= Right.OPERATE)
