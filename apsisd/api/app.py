"""The HTTP API (read side so far): health, runs and jobs as JSON under /api/v1, on apsisd's Unix socket.

Every answer is JSON, errors included ({"error": "..."} with a 4xx); a caller
the socket's peer credentials do not allow is refused before any route runs.
"""
from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

from apsisd.api.access import Caller, may_read, peer
from apsisd.errors import InvalidFields, SpecError, TransitionError, UnknownRun
from apsisd.quantities import parse_instant
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
MAX_CREATE = 1000
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
    app.router.add_get("/api/v1/runs/{run_id}/output", _output)
    app.router.add_get("/api/v1/jobs", _jobs)
    app.router.add_post("/api/v1/reload", _reload)
    app.router.add_post("/api/v1/runs", _create)
    app.router.add_post("/api/v1/runs/{run_id}/rerun", _rerun)
    app.router.add_post("/api/v1/runs/{run_id}/signal", _signal)
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
    if not may_read(_caller(request)):
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
    try:
        run = await operations.current(_scheduler(request), run_id)
    except UnknownRun:
        raise _error(web.HTTPNotFound, f"no run {run_id}") from None
    return web.json_response(run_jso(run))


async def _output(request: web.Request) -> web.Response:
    """The run's output as written (bytes, stdout and stderr interleaved), from the journal; empty before it ran."""
    run_id = RunId(request.match_info["run_id"])
    scheduler = _scheduler(request)
    try:
        run = await operations.current(scheduler, run_id)
    except UnknownRun:
        raise _error(web.HTTPNotFound, f"no run {run_id}") from None
    if run.unit is None:
        return web.Response(body=b"", content_type="application/octet-stream")
    data = b"".join([record.data async for record in scheduler.host.output(run_id)])
    return web.Response(body=data, content_type="application/octet-stream")


async def _run_log(request: web.Request) -> web.Response:
    run_id = RunId(request.match_info["run_id"])
    try:
        entries = await _scheduler(request).records.store.log(run_id)
    except UnknownRun:
        raise _error(web.HTTPNotFound, f"no run {run_id}") from None
    return web.json_response({"log": [{"time": entry.time.isoformat(timespec="microseconds"),
                                       "state": str(entry.state) if entry.state else None,
                                       "message": entry.message} for entry in entries]})


async def _create(request: web.Request) -> web.Response:
    """{"job_id", "args": {...}, "at": ISO 8601 with offset (default now), "count": 1 to 1000 (default 1)}."""
    try:
        body = await request.json()
    except ValueError:
        raise _error(web.HTTPBadRequest, "the body must be a JSON object: {\"job_id\": ..., \"args\": {...}}") from None
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "the body must be a JSON object: {\"job_id\": ..., \"args\": {...}}")
    unknown = set(body) - {"job_id", "args", "at", "count"}
    job_id, args, count = body.get("job_id"), body.get("args", {}), body.get("count", 1)
    if unknown:
        raise _error(web.HTTPBadRequest, f"unknown field {sorted(unknown)[0]!r}; use job_id, args, at, count")
    if not isinstance(job_id, str) or not job_id:
        raise _error(web.HTTPBadRequest, "job_id must be a job's id, such as etl/load")
    if not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values()):
        raise _error(web.HTTPBadRequest, "args must be an object of text values, such as {\"date\": \"2026-11-26\"}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CREATE:
        raise _error(web.HTTPBadRequest, f"count must be a whole number from 1 to {MAX_CREATE}")
    try:
        at = parse_instant(body["at"]) if body.get("at") is not None else None
    except InvalidFields as exc:
        raise _error(web.HTTPBadRequest, f"at: {exc}") from None
    who = _who(request)
    try:
        runs = [await operations.create(_scheduler(request), JobId(job_id), args, at, who) for _ in range(count)]
    except operations.UnknownJob as exc:
        raise _error(web.HTTPNotFound, str(exc)) from None
    except operations.BadArgs as exc:
        raise _error(web.HTTPBadRequest, str(exc)) from None
    return web.json_response({"runs": [run_jso(run) for run in runs]}, status=201)


async def _rerun(request: web.Request) -> web.Response:
    return await _operate(request, lambda scheduler, run_id, who: operations.rerun(scheduler, run_id, who))


async def _signal(request: web.Request) -> web.Response:
    signal = request.query.get("signal", "")
    return await _operate(request, lambda scheduler, run_id, who: operations.send_signal(scheduler, run_id, signal,
                                                                                          who))


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
    try:
        run = await operation(_scheduler(request), run_id, _who(request))
    except (UnknownRun, operations.UnknownJob) as exc:
        raise _error(web.HTTPNotFound, str(exc)) from None
    except TransitionError as exc:
        raise _error(web.HTTPConflict, str(exc)) from None
    except SpecError as exc:
        raise _error(web.HTTPBadRequest, exc.problem) from None
    return web.json_response(run_jso(run))


def _caller(request: web.Request) -> Caller | None:
    return peer(request.transport.get_extra_info("socket") if request.transport else None)


def _who(request: web.Request) -> str:
    caller = _caller(request)
    return f"uid {caller.uid} (pid {caller.pid}) through the API" if caller else "the API"


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
