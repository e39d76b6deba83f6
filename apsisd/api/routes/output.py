"""A run's output as written, from the journal."""
from __future__ import annotations

from aiohttp import web

from apsisd.api.replies import check_params, the_run
from apsisd.api.state import scheduler_of

routes = web.RouteTableDef()


@routes.get("/api/v1/runs/{run_id}/output")
async def output(request: web.Request) -> web.Response:
    """The run's output as written (bytes, stdout and stderr interleaved), from the journal; empty before it ran."""
    check_params(request, ())
    scheduler = scheduler_of(request)
    run = await the_run(request, scheduler)
    if run.unit is None:
        return web.Response(body=b"", content_type="application/octet-stream")
    data = b"".join([record.data async for record in scheduler.host.output(run.id)])
    return web.Response(body=data, content_type="application/octet-stream")
