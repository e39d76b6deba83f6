"""GET /api/v1/hosts: each host apsisd drives, as an operator sees it (scheduler/host_status.py)."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from apsisd.api.replies import check_params
from apsisd.api.state import scheduler_of
from apsisd.scheduler.host_status import HostStatus, host_statuses

routes = web.RouteTableDef()


def host_jso(status: HostStatus) -> dict[str, Any]:
    return {
        "name": status.name,
        "kind": "remote" if status.remote else "local",
        "state": "reachable" if status.reachable else "unreachable",
        "since": None if status.since is None else status.since.isoformat(),
        "problem": status.problem,
        "agentd": status.agentd,
        "hostname": status.hostname,
        "clock_skew": status.clock_skew,
        "runs_under_way": status.runs_under_way,
    }


@routes.get("/api/v1/hosts")
async def hosts(request: web.Request) -> web.Response:
    check_params(request, ())
    scheduler = scheduler_of(request)
    return web.json_response([host_jso(status) for status in
                              host_statuses(scheduler.router.hosts, scheduler.ledger.all())])
