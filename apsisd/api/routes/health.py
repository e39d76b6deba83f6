"""GET /api/v1/health: is apsisd up and scheduling."""
from __future__ import annotations

from aiohttp import web

from apsisd.api.state import scheduler_of

routes = web.RouteTableDef()


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    scheduler = scheduler_of(request)
    return web.json_response({"status": "ok", "jobs": len(scheduler.jobs.jobs),
                              "runs_in_flight": len(scheduler.ledger)})
