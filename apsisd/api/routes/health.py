"""GET /api/v1/health: is apsisd up and scheduling (503 when its scheduling loop is not running, or its state
cannot be written: then `problem` says why).

`status` is `degraded` also while the jobs folder read at start had problems (`jobs_folder`, and `problem` in
words): apsisd schedules the jobs that load and holds the others, so the answer stays 200; a 503 would have a
load balancer or a supervisor restart it, which mends no file.
"""
from __future__ import annotations

from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web

from apsisd.api.replies import check_params
from apsisd.api.state import scheduler_of, state_of
from apsisd.jobs.model import JobSet
from apsisd.scheduler.service import Scheduler

routes = web.RouteTableDef()
LISTED = 100  # files and held jobs named at most (the counts are whole)


def _version() -> str:
    try:
        return version("apsis")
    except PackageNotFoundError:
        return "unknown"


VERSION = _version()


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    check_params(request, ())
    body, working = health_report(scheduler_of(request), state_of(request).started)
    return web.json_response(body, status=200 if working else 503)


def health_report(scheduler: Scheduler, started: datetime) -> tuple[dict[str, Any], bool]:
    """The health answer's body, and whether apsisd is working (scheduling, its state writable): the API's and
    the control page's."""
    scheduling = scheduler.ready.is_set()
    store = scheduler.store_problem
    jobs = scheduler.jobs
    working = scheduling and store is None
    body: dict[str, Any] = {
        "status": "ok" if working and not jobs.problems else "degraded", "scheduling": scheduling,
        "jobs": len(jobs.jobs), "runs_in_flight": len(scheduler.ledger), "version": VERSION,
        "started": started.isoformat(timespec="seconds")}
    problems = []
    if store is not None:
        problems.append(f"the state cannot be written: {store}; nothing is started that cannot be recorded")
    if jobs.problems:
        body["jobs_folder"], said = _jobs_folder(jobs)
        problems.append(said)
    if problems:
        body["problem"] = "; ".join(problems)
    return body, working


def _jobs_folder(jobs: JobSet) -> tuple[dict[str, Any], str]:
    """The jobs folder's problems, for `jobs_folder`, and in words."""
    files = sorted({problem.file for problem in jobs.problems})
    return ({"problems": len(jobs.problems), "files": files[:LISTED], "held": sorted(jobs.held)[:LISTED]},
            f"the jobs folder has {len(jobs.problems)} problems in {len(files)} files; {len(jobs.held)} jobs are held "
            "(not scheduled, their runs kept) until a reload reads their files again: see the log or `apsis check`, "
            "fix them and reload")
