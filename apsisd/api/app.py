"""The HTTP API (read side so far): health, runs and jobs as JSON under /api/v1, on apsisd's Unix socket.

Every answer is JSON, errors included ({"error": "..."} with a 4xx); a caller
the socket's peer credentials do not allow is refused before any route runs.
"""
from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

from apsisd.api.access import may_read, peer
from apsisd.errors import TransitionError, UnknownRun
from apsisd.runs.jso import run_jso
from apsisd.runs.model import Run
from apsisd.runs.state import FINISHED, State
from apsisd.scheduler import operations
from apsisd.scheduler.reload import ReloadResult
from apsisd.scheduler.service import Scheduler
from apsisd.store.base import RunQuery
from apsisd.types import JobId, RunId

SCHEDULER = "apsis.scheduler"  # plain keys: web.AppKey is aiohttp 3.9, Debian 12 has 3.8
RELOADER = "apsis.reloader"
MAX_LIMIT = 10_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


Reload = Callable[..., Awaitable[ReloadResult]]  # reload(dry_run=False): the daemon's, which logs and notifies


def make_app(scheduler: Scheduler, reload: Reload) -> web.Application:
    app = web.Application(middlewares=[_errors_as_json, _access])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # aiohttp >= 3.9 asks for an AppKey, which 3.8 does not have
        app[SCHEDULER] = scheduler
        app[RELOADER] = reload
    app.router.add_get("/api/v1/health", _health)
    app.router.add_get("/api/v1/runs", _runs)
    app.router.add_get("/api/v1/runs/{run_id}", _run)
    app.router.add_get("/api/v1/runs/{run_id}/log", _run_log)
    app.router.add_get("/api/v1/jobs", _jobs)
    app.router.add_post("/api/v1/reload", _reload)
    app.router.add_post("/api/v1/runs/{run_id}/skip", _skip)
    app.router.add_post("/api/v1/runs/{run_id}/stop", _stop)
    app.router.add_post("/api/v1/runs/{run_id}/mark", _mark)
    return app


def _scheduler(request: web.Request) -> Scheduler:
    return cast(Scheduler, request.app[SCHEDULER])


def _error(status: type[web.HTTPError], message: str) -> web.HTTPError:
    return status(text=web.json_response({"error": message}).text, content_type="application/json")


@web.middleware
async def _access(request: web.Request, handler: Handler) -> web.StreamResponse:
    caller = peer(request.transport.get_extra_info("socket") if request.transport else None)
    if not may_read(caller):
        raise _error(web.HTTPForbidden, "not allowed: the API answers root, apsisd's user and the group apsis")
    return await handler(request)


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json":
            raise
        raise _error(type(exc), exc.reason) from None  # type: ignore[arg-type]


async def _health(request: web.Request) -> web.Response:
    scheduler = _scheduler(request)
    return web.json_response({"status": "ok", "jobs": len(scheduler.jobs.jobs),
                              "runs_in_flight": len(scheduler.ledger)})


async def _run(request: web.Request) -> web.Response:
    run_id = RunId(request.match_info["run_id"])
    scheduler = _scheduler(request)
    run = scheduler.ledger.get(run_id)
    if run is None:
        try:
            run = await scheduler.records.store.get(run_id)
        except UnknownRun:
            raise _error(web.HTTPNotFound, f"no run {run_id}") from None
    return web.json_response(run_jso(run))


async def _run_log(request: web.Request) -> web.Response:
    run_id = RunId(request.match_info["run_id"])
    try:
        entries = await _scheduler(request).records.store.log(run_id)
    except UnknownRun:
        raise _error(web.HTTPNotFound, f"no run {run_id}") from None
    return web.json_response({"log": [{"time": entry.time.isoformat(timespec="microseconds"),
                                       "state": str(entry.state) if entry.state else None,
                                       "message": entry.message} for entry in entries]})


async def _skip(request: web.Request) -> web.Response:
    return await _operate(request, lambda scheduler, run_id, who: operations.skip(scheduler, run_id, who))


async def _stop(request: web.Request) -> web.Response:
    return await _operate(request, lambda scheduler, run_id, who: operations.stop(scheduler, run_id, who))


async def _mark(request: web.Request) -> web.Response:
    state = next((state for state in FINISHED if state == request.query.get("state")), None)
    if state is None:
        raise _error(web.HTTPBadRequest, "state must be the finished state to mark the run as: success, failure, "
                                         "error or skipped")
    return await _operate(request, lambda scheduler, run_id, who: operations.mark_as(scheduler, run_id, state, who))


async def _operate(request: web.Request, operation: Callable[[Scheduler, RunId, str], Awaitable[Run]]
                   ) -> web.Response:
    """Do it to the run; 404 for an unknown run, 409 when its state does not allow it (saying why)."""
    run_id = RunId(request.match_info["run_id"])
    caller = peer(request.transport.get_extra_info("socket") if request.transport else None)
    who = f"uid {caller.uid} (pid {caller.pid}) through the API" if caller else "the API"
    try:
        run = await operation(_scheduler(request), run_id, who)
    except UnknownRun:
        raise _error(web.HTTPNotFound, f"no run {run_id}") from None
    except TransitionError as exc:
        raise _error(web.HTTPConflict, str(exc)) from None
    return web.json_response(run_jso(run))


async def _reload(request: web.Request) -> web.Response:
    """Read the jobs folder again; `?dry_run=1` says what would change (and the errors) without applying it."""
    dry_run = request.query.get("dry_run", "0")
    if dry_run not in ("0", "1", "true", "false"):
        raise _error(web.HTTPBadRequest, "dry_run must be 1 or 0 (true or false)")
    result = await cast(Reload, request.app[RELOADER])(dry_run=dry_run in ("1", "true"))
    body = {"added": list(result.added), "changed": list(result.changed), "removed": list(result.removed),
            "errors": list(result.errors), "applied": result.applied}
    return web.json_response(body, status=422 if result.errors else 200)


async def _runs(request: web.Request) -> web.Response:
    query = _run_query(request)
    scheduler = _scheduler(request)
    found = await scheduler.records.store.runs(query)
    return web.json_response({"runs": [run_jso(_fresher(scheduler, run)) for run in found]})


def _fresher(scheduler: Scheduler, run: Run) -> Run:
    """The ledger is ahead of the store by at most a commit: a run in flight is shown as it is now."""
    return scheduler.ledger.get(run.id) or run


def _run_query(request: web.Request) -> RunQuery:
    params = request.query
    unknown = set(params) - {"job", "state", "limit", "before"}
    if unknown:
        raise _error(web.HTTPBadRequest, f"unknown parameter {sorted(unknown)[0]!r}; use job, state, limit, before")
    states = None
    if "state" in params:
        try:
            states = frozenset(State(name) for name in params.getall("state"))
        except ValueError:
            raise _error(web.HTTPBadRequest, f"state must be one of {', '.join(State)}") from None
    try:
        limit = int(params.get("limit", "100"))
    except ValueError:
        raise _error(web.HTTPBadRequest, "limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _error(web.HTTPBadRequest, f"limit must be from 1 to {MAX_LIMIT}")
    before = params.get("before")
    if before is not None and not (before.startswith("r") and before[1:].isdigit()):
        raise _error(web.HTTPBadRequest, "before must be a run id such as r123")
    job = params.get("job")
    return RunQuery(job_id=JobId(job) if job else None, states=states, limit=limit,
                    before=RunId(before) if before else None)


async def _jobs(request: web.Request) -> web.Response:
    jobs = _scheduler(request).jobs.jobs
    return web.json_response({"jobs": [_job_jso(job_id, job) for job_id, job in sorted(jobs.items())]})


def _job_jso(job_id: str, job: Any) -> dict[str, Any]:
    return {"job_id": job_id, "params": list(job.params), "metadata": {
        "description": job.metadata.description, "labels": list(job.metadata.labels)}}
