"""GET /api/v1/health: is apsisd up and scheduling (503 when its scheduling loop is not running, or its state
cannot be written: then `problem` says why)."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from apsisd.api.replies import check_params
from apsisd.api.state import scheduler_of, state_of

routes = web.RouteTableDef()


def _version() -> str:
    try:
        return version("apsis")
    except PackageNotFoundError:
        return "unknown"


VERSION = _version()


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    check_params(request, ())
    scheduler = scheduler_of(request)
    scheduling = scheduler.ready.is_set()
    store = scheduler.store_problem
    healthy = scheduling and store is None
    body = {"status": "ok" if healthy else "degraded", "scheduling": scheduling,
            "jobs": len(scheduler.jobs.jobs), "runs_in_flight": len(scheduler.ledger), "version": VERSION,
            "started": state_of(request).started.isoformat(timespec="seconds")}
    if store is not None:
        body["problem"] = f"the state cannot be written: {store}; nothing is started that cannot be recorded"
    return web.json_response(body, status=200 if healthy else 503)
