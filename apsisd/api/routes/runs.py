"""Reading runs: the list (filtered, newest first, paged), one run, its log, its dependencies."""
from __future__ import annotations

import re
from datetime import datetime
from typing import TypeVar

from aiohttp import web

from agentd.types import JobId, RunId
from apsisd.api.replies import check_params, problem, single, the_run, whole
from apsisd.api.state import scheduler_of
from apsisd.errors import InvalidFields, UnknownRun
from apsisd.jobs.model import JobSet
from apsisd.quantities import parse_instant
from apsisd.runs.jso import run_jso
from apsisd.runs.model import Origin
from apsisd.runs.state import State
from apsisd.scheduler import history
from apsisd.scheduler.dependencies import dependencies
from apsisd.scheduler.operations import UnknownJob
from apsisd.store.base import RunQuery

routes = web.RouteTableDef()
Member = TypeVar("Member", State, Origin)
MAX_LIMIT = 10_000
RUN_ID = re.compile(r"r[1-9][0-9]{0,17}", re.ASCII)  # below SQLite's largest integer
FILTERS = ("job", "path", "label", "arg", "state", "host", "origin", "since", "until", "changed_since",
           "changed_until", "limit", "before", "order")
ORDERS = ("id", "time")


@routes.get("/api/v1/runs")
async def runs(request: web.Request) -> web.Response:
    """Every filter given must hold; `next` is the `before` of the page after this one (null: this is the last),
    in the order asked for."""
    scheduler = scheduler_of(request)
    query = _run_query(request, scheduler.jobs)
    found, after = await history.runs_page(scheduler, query)
    return web.json_response({"runs": [run_jso(run) for run in found], "next": after})


@routes.get("/api/v1/runs/{run_id}")
async def run(request: web.Request) -> web.Response:
    check_params(request, ())
    return web.json_response(run_jso(await the_run(request, scheduler_of(request))))


@routes.get("/api/v1/runs/{run_id}/log")
async def run_log(request: web.Request) -> web.Response:
    check_params(request, ())
    run_id = RunId(request.match_info["run_id"])
    try:
        entries = await history.run_log(scheduler_of(request), run_id)
    except UnknownRun:
        raise problem(web.HTTPNotFound, f"no run {run_id}") from None
    return web.json_response({"log": [{"time": entry.time.isoformat(timespec="microseconds"),
                                       "state": str(entry.state) if entry.state else None,
                                       "message": entry.message} for entry in entries]})


@routes.get("/api/v1/runs/{run_id}/dependencies")
async def run_dependencies(request: web.Request) -> web.Response:
    """The run's `dependency` conditions bound to it; 404 when its job is not loaded (its conditions unknown)."""
    check_params(request, ())
    scheduler = scheduler_of(request)
    subject = await the_run(request, scheduler)
    try:
        found = await dependencies(scheduler, subject)
    except UnknownJob:
        raise problem(web.HTTPNotFound, f"run {subject.id}'s job {subject.job_id} is not loaded (removed from the jobs "
                                        "folder, or the run is ad hoc): its dependencies are unknown") from None
    return web.json_response({"dependencies": [{
        "job_id": each.job_id,
        "args": dict(each.args),
        "states": [str(state) for state in State if state in each.states],
        "satisfied": each.satisfied,
        "runs": list(each.runs),
        "error": each.error,
    } for each in found]})


def _run_query(request: web.Request, jobs: JobSet) -> RunQuery:
    params = request.query
    check_params(request, FILTERS)
    states = _members(request, "state", State)
    origins = _members(request, "origin", Origin)
    hosts = None
    if "host" in params:
        hosts = frozenset(params.getall("host"))
        if "" in hosts:
            raise problem(web.HTTPBadRequest, "host must be a host's name, such as host=local, not empty")
    order = single(request, "order") or "id"
    if order not in ORDERS:
        raise problem(web.HTTPBadRequest, f"order must be id (newest run first) or time (latest schedule time "
                                          f"first), not {order!r}")
    labels = params.getall("label", [])
    job_ids = frozenset(job.id for job in jobs.select(labels=labels)) if labels else None
    limit = whole(request, "limit", 100, 1, MAX_LIMIT)
    before = single(request, "before")
    if before is not None and not RUN_ID.fullmatch(before):
        raise problem(web.HTTPBadRequest, f"before must be a run id such as r123, not {before!r}")
    job = single(request, "job")
    return RunQuery(job_id=JobId(job) if job else None, job_prefix=single(request, "path"), job_ids=job_ids,
                    args=_args(params.getall("arg", [])), states=states, hosts=hosts, origins=origins,
                    since=_time(request, "since"), until=_time(request, "until"),
                    changed_since=_time(request, "changed_since"), changed_until=_time(request, "changed_until"),
                    limit=limit, before=RunId(before) if before else None,
                    order="time" if order == "time" else "id")


def _members(request: web.Request, name: str, kind: type[Member]) -> frozenset[Member] | None:
    """The values of a repeatable parameter that names members of `kind` (State, Origin); None when not given."""
    if name not in request.query:
        return None
    try:
        return frozenset(kind(value) for value in request.query.getall(name))
    except ValueError:
        raise problem(web.HTTPBadRequest, f"{name} must be one of {', '.join(kind)}") from None


def _args(given: list[str]) -> dict[str, str] | None:
    """`arg=NAME=VALUE`, each given: the args a run must have (with these values; it may have others)."""
    if not given:
        return None
    args: dict[str, str] = {}
    for text in given:
        name, equals, value = text.partition("=")
        if not name or not equals:
            raise problem(web.HTTPBadRequest, f"arg must be NAME=VALUE, such as arg=date=2026-11-26, not {text!r}")
        if args.get(name, value) != value:
            raise problem(web.HTTPBadRequest, f"arg {name} is given twice ({name}={args[name]}, {text}); a run has "
                                              "one value per arg")
        args[name] = value
    return args


def _time(request: web.Request, name: str) -> datetime | None:
    text = single(request, name)
    if text is None:
        return None
    try:
        return parse_instant(text)
    except InvalidFields:
        # In a query string '+' means a space: an offset such as +01:00 arrives as ' 01:00'.
        plus = "; write + as %2B in a URL (or use Z)" if " " in text else ""
        raise problem(web.HTTPBadRequest, f"{name} must be an ISO 8601 time with its offset, such as "
                                          f"2026-11-26T09:30:00Z, not {text!r}{plus}") from None
