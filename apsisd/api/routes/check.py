"""GET /api/v1/check: the sanity report (scheduler/check.py) as JSON."""
from __future__ import annotations

from aiohttp import web

from apsisd.api.replies import check_params, whole
from apsisd.api.state import scheduler_of
from apsisd.runs.jso import run_jso
from apsisd.scheduler.check import sanity

routes = web.RouteTableDef()
DAY = 86_400


@routes.get("/api/v1/check")
async def check(request: web.Request) -> web.Response:
    """`late`: seconds after its time a run may start before it counts as late (default 60); `window`: how far
    back late runs are looked for, in seconds (default a day)."""
    check_params(request, ("late", "window"))
    late = whole(request, "late", 60, 0, DAY)
    window = whole(request, "window", DAY, 1, 366 * DAY)
    report = await sanity(scheduler_of(request), late=late, window=window)
    return web.json_response({
        "ok": report.ok,
        "late": [run_jso(run) for run in report.late],
        "overdue": [run_jso(run) for run in report.overdue],
        "lost": [run_jso(run) for run in report.lost],
        "hostless": [run_jso(run) for run in report.hostless],
        "unlisted_hosts": [{"host": host, "problem": problem} for host, problem in report.unlisted_hosts],
        "skewed_hosts": [{"host": status.name, "clock_skew": status.clock_skew} for status in report.skewed_hosts],
        "orphan_units": [{"unit": unit.unit, "run_id": unit.run_id, "active_state": unit.active_state}
                         for unit in report.orphan_units],
        "unscheduled_jobs": list(report.unscheduled_jobs),
        "job_file_problems": [str(problem) for problem in report.problems],
        "held_jobs": list(report.held_jobs),
    })
