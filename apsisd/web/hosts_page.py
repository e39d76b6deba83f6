"""/hosts: each host apsisd drives, as GET /api/v1/hosts shows it (scheduler/host_status.py): reachable or not,
since when and why, agentd's version and the hostname at the other end, its clock's skew, and its runs under way
(a link to them; the count kept live by static/alive.js)."""
from __future__ import annotations

from aiohttp import web

from apsisd.api.state import scheduler_of
from apsisd.scheduler.host_status import SKEW_WARNING, host_statuses
from apsisd.web.render import page

routes = web.RouteTableDef()


@routes.get("/hosts")
async def hosts(request: web.Request) -> web.Response:
    scheduler = scheduler_of(request)
    router = scheduler.router
    return page(request, "hosts.html", hosts=host_statuses(router.hosts, scheduler.ledger.all()),
                groups=sorted(router.groups.items()), skew=SKEW_WARNING)
