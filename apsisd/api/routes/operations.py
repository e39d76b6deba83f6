"""What an operator does through the API: create runs, rerun, signal, skip, stop, mark, reload.

Each is checked against the run's state first (scheduler/operations.py):
404 for an unknown run or job, 409 when its state does not allow it (the
message says why), 400 for a bad parameter, 403 for an ad hoc run the
caller's right does not allow (api/adhoc.py); nothing is half done.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from agentd.errors import SpecError
from agentd.types import JobId, RunId
from apsisd.api import adhoc
from apsisd.api.access import principal_of, who
from apsisd.api.replies import check_params, flag, json_object, problem
from apsisd.api.state import scheduler_of, state_of
from apsisd.errors import InvalidFields, TransitionError, UnknownRun
from apsisd.quantities import parse_instant
from apsisd.runs.jso import run_jso
from apsisd.runs.model import Run
from apsisd.runs.state import FINISHED
from apsisd.scheduler import operations
from apsisd.scheduler.routing import HostGone
from apsisd.scheduler.service import Scheduler

routes = web.RouteTableDef()
MAX_CREATE = 1000
Operation = Callable[[Scheduler, RunId, str], Awaitable[Run]]


@routes.post("/api/v1/runs")
async def create(request: web.Request) -> web.Response:
    """Runs of a job: {"job_id", "args": {...}, "at", "count"}; or ad hoc, with a program of their own:
    {"program": (as a job's), "name" (the job id to file them under, default adhoc), "host" (a host or group of
    apsisd.toml, default local), "at", "count"}.
    `at` is ISO 8601 with its offset (default now); `count` 1 to 1000 (default 1)."""
    check_params(request, ())
    body = await json_object(request, ("job_id", "args", "program", "name", "host", "at", "count"),
                             '{"job_id": "etl/load", "args": {...}} or {"program": "echo hello"}')
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CREATE:
        raise problem(web.HTTPBadRequest, f"count must be a whole number from 1 to {MAX_CREATE}")
    try:
        at = parse_instant(body["at"]) if body.get("at") is not None else None
    except InvalidFields as exc:
        raise problem(web.HTTPBadRequest, str(exc.under("at"))) from None
    scheduler = scheduler_of(request)
    try:
        make = _adhoc(request, body, at) if "program" in body else _of_job(body, at, who(request))
        made = [await make(scheduler) for _ in range(count)]
    except adhoc.NotAllowed as exc:
        raise problem(web.HTTPForbidden, str(exc)) from None
    except operations.UnknownJob as exc:
        raise problem(web.HTTPNotFound, str(exc)) from None
    except operations.BadArgs as exc:
        raise problem(web.HTTPBadRequest, str(exc)) from None
    return web.json_response({"runs": [run_jso(run) for run in made]}, status=201)


def _of_job(body: dict[str, Any], at: datetime | None, by: str) -> Callable[[Scheduler], Awaitable[Run]]:
    job_id, args = body.get("job_id"), body.get("args", {})
    if "name" in body:
        raise problem(web.HTTPBadRequest, "name is for ad hoc runs (with a program); a job's runs are filed under "
                                          "its job_id")
    if "host" in body:
        raise problem(web.HTTPBadRequest, "host is for ad hoc runs (with a program); a job's runs go to the host "
                                          "its file's host: names")
    if not isinstance(job_id, str) or not job_id:
        raise problem(web.HTTPBadRequest, "job_id must be a job's id, such as etl/load (or give a program for an "
                                          "ad hoc run)")
    if not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values()):
        raise problem(web.HTTPBadRequest, "args must be an object of text values, such as {\"date\": \"2026-11-26\"}")
    return lambda scheduler: operations.create(scheduler, JobId(job_id), args, at, by)


def _adhoc(request: web.Request, body: dict[str, Any], at: datetime | None
           ) -> Callable[[Scheduler], Awaitable[Run]]:
    """Checked against the caller's right before the program is looked at (adhoc.NotAllowed)."""
    vet = adhoc.rule(principal_of(request), state_of(request).policy)
    if "job_id" in body or "args" in body:
        raise problem(web.HTTPBadRequest, "an ad hoc run (with a program) takes no job_id or args; name it with "
                                          "name")
    name = body.get("name", operations.ADHOC)
    if not isinstance(name, str):
        raise problem(web.HTTPBadRequest, "name must be text, such as adhoc")
    by = who(request)
    host = body.get("host")
    return lambda scheduler: operations.create_adhoc(scheduler, body["program"], name, at, by, vet, host=host)


@routes.post("/api/v1/runs/{run_id}/start")
async def start(request: web.Request) -> web.Response:
    return await _operate(request, (), operations.start_now)


@routes.post("/api/v1/runs/{run_id}/rerun")
async def rerun(request: web.Request) -> web.Response:
    return await _operate(request, (), operations.rerun, status=201)


@routes.post("/api/v1/runs/{run_id}/signal")
async def signal(request: web.Request) -> web.Response:
    name = request.query.get("signal", "")
    return await _operate(request, ("signal",), lambda scheduler, run_id, by: operations.send_signal(
        scheduler, run_id, name, by))


@routes.post("/api/v1/runs/{run_id}/skip")
async def skip(request: web.Request) -> web.Response:
    return await _operate(request, (), operations.skip)


@routes.post("/api/v1/runs/{run_id}/stop")
async def stop(request: web.Request) -> web.Response:
    return await _operate(request, (), operations.stop)


@routes.post("/api/v1/runs/{run_id}/mark")
async def mark(request: web.Request) -> web.Response:
    state = next((state for state in FINISHED if state == request.query.get("state")), None)
    if state is None:
        raise problem(web.HTTPBadRequest, "state must be the finished state to mark the run as: success, failure, "
                                          "error or skipped")
    return await _operate(request, ("state",), lambda scheduler, run_id, by: operations.mark_as(
        scheduler, run_id, state, by))


async def _operate(request: web.Request, params: tuple[str, ...], operation: Operation, status: int = 200
                   ) -> web.Response:
    """Do it to the run; 404 for an unknown run, 409 when its state does not allow it (saying why)."""
    check_params(request, params)
    run_id = RunId(request.match_info["run_id"])
    try:
        run = await operation(scheduler_of(request), run_id, who(request))
    except (UnknownRun, operations.UnknownJob) as exc:
        raise problem(web.HTTPNotFound, str(exc)) from None
    except TransitionError as exc:
        raise problem(web.HTTPConflict, str(exc)) from None
    except SpecError as exc:
        raise problem(web.HTTPBadRequest, exc.problem) from None
    except HostGone as exc:
        raise problem(web.HTTPConflict, f"run {run_id}: {exc}") from None
    return web.json_response(run_jso(run), status=status)


@routes.post("/api/v1/reload")
async def reload(request: web.Request) -> web.Response:
    """Read the jobs folder again; `?dry_run=1` says what would change (and the errors) without applying it."""
    check_params(request, ("dry_run",))
    result = await state_of(request).reload(dry_run=flag(request, "dry_run"))
    body = {"added": list(result.added), "changed": list(result.changed), "removed": list(result.removed),
            "errors": list(result.errors), "applied": result.applied}
    return web.json_response(body, status=422 if result.errors else 200)
