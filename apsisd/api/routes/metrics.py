"""GET /metrics: the runs, the jobs and the process in Prometheus's text format (beside /api/v1, where scrapers
look for it)."""
from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from apsisd.api.replies import check_params
from apsisd.api.state import state_of

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    check_params(request, ())
    # As a header: content_type= takes no parameters, and the format's version is one.
    return web.Response(body=state_of(request).metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
