"""Reading runs: the list (filtered, newest first, paged), one run, its log."""
from __future__ import annotations

from aiohttp import web

from apsisd.api.replies import check_params, problem, the_run, whole
from apsisd.api.state import scheduler_of
from apsisd.errors import UnknownRun
from apsisd.runs.jso import run_jso
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import RunQuery
from apsisd.types import JobId, RunId

routes = web.RouteTableDef()
MAX_LIMIT = 10_000


@routes.get("/api/v1/runs")
async def runs(request: web.Request) -> web.Response:
    query = _run_query(request)
    scheduler = scheduler_of(request)
    found = await scheduler.records.store.runs(query)
    return web.json_response({"runs": [run_jso(_fresher(scheduler, run)) for run in found]})


@routes.get("/api/v1/runs/{run_id}")
async def run(request: web.Request) -> web.Response:
    check_params(request, ())
    return web.json_response(run_jso(await the_run(request, scheduler_of(request))))


@routes.get("/api/v1/runs/{run_id}/log")
async def run_log(request: web.Request) -> web.Response:
    check_params(request, ())
    run_id = RunId(request.match_info["run_id"])
    try:
        entries = await scheduler_of(request).records.store.log(run_id)
    except UnknownRun:
        raise problem(web.HTTPNotFound, f"no run {run_id}") from None
    return web.json_response({"log": [{"time": entry.time.isoformat(timespec="microseconds"),
                                       "state": str(entry.state) if entry.state else None,
                                       "message": entry.message} for entry in entries]})


def _fresher(scheduler: Scheduler, run: Run) -> Run:
    """The ledger is ahead of the store by at most a commit: a run in flight is shown as it is now."""
    return scheduler.ledger.get(run.id) or run


def _run_query(request: web.Request) -> RunQuery:
    params = request.query
    check_params(request, ("job", "state", "limit", "before"))
    states = None
    if "state" in params:
        try:
            states = frozenset(State(name) for name in params.getall("state"))
        except ValueError:
            raise problem(web.HTTPBadRequest, f"state must be one of {', '.join(State)}") from None
    limit = whole(request, "limit", 100, 1, MAX_LIMIT)
    before = params.get("before")
    if before is not None and not (before.startswith("r") and before[1:].isdigit()):
        raise problem(web.HTTPBadRequest, "before must be a run id such as r123")
    job = params.get("job")
    return RunQuery(job_id=JobId(job) if job else None, states=states, limit=limit,
                    before=RunId(before) if before else None)
