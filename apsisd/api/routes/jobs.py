"""Reading jobs: the jobs loaded (by path and labels), and one job with its next runs.

A job is shown as its file wrote it (apsisd/jobs/jso.py), less the secrets
the caller may not see (api/job_texts.py shown_to). Job ids hold '/', so
one job's path is the rest of the URL.
"""
from __future__ import annotations

import asyncio
import bisect
import difflib
import itertools
from collections.abc import Collection

from aiohttp import web

from agentd.types import JobId
from apsisd.api.access import principal_of
from apsisd.api.job_texts import shown_to
from apsisd.api.replies import check_params, problem, single
from apsisd.api.state import scheduler_of, state_of
from apsisd.jobs.jso import job_jso
from apsisd.runs.jso import instant, run_jso
from apsisd.runs.model import run_number
from apsisd.runs.state import State
from apsisd.scheduler.operations import UnknownJob

routes = web.RouteTableDef()
NEXT = 10  # instants the schedules give next
MAX_SCHEDULED = 100  # of the runs not yet started
NOT_STARTED = (State.SCHEDULED, State.WAITING)
HINT_POOL = 500  # ids compared for a 404's hint: difflib takes up to 0.1 ms an id


@routes.get("/api/v1/jobs")
async def jobs(request: web.Request) -> web.Response:
    """?path=PREFIX (a folder: 'etl/' under etl/, 'etl' also the job etl) &label=L (repeatable: all of them)."""
    check_params(request, ("path", "label"))
    selected = scheduler_of(request).jobs.select(single(request, "path"), request.query.getall("label", []))
    texts = state_of(request).job_texts
    shown = shown_to(principal_of(request))
    return web.Response(text='{"jobs": ' + await asyncio.to_thread(texts.array, selected, shown) + "}",
                        content_type="application/json")


@routes.get("/api/v1/jobs/{job_id:.+}")
async def job(request: web.Request) -> web.Response:
    """The job, the instants its schedules give next (from now), and its runs not yet started, by time."""
    check_params(request, ())
    scheduler = scheduler_of(request)
    job_id = JobId(request.match_info["job_id"])
    found = scheduler.jobs.jobs.get(job_id)
    if found is None:
        close = _close_matches(job_id, scheduler.jobs.jobs)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise problem(web.HTTPNotFound, f"{UnknownJob(job_id)}{hint}")
    upcoming = itertools.islice(found.times(scheduler.clock.now()), NEXT)
    unstarted = sorted((run for run in scheduler.ledger.active(job_id) if run.state in NOT_STARTED),
                     key=lambda run: (run.schedule_time, run_number(run.id)))
    return web.json_response({
        "job": job_jso(found, shown_to(principal_of(request))),
        "next": [{"time": instant(due.time), "args": dict(due.args)} for due in upcoming],
        "scheduled": [run_jso(run) for run in unstarted[:MAX_SCHEDULED]],
    })


def _close_matches(job_id: str, loaded: Collection[str]) -> list[str]:
    """Up to three loaded ids like `job_id`: of its folder's (or, with none there, of all), the HINT_POOL
    nearest in sort order, so a folder of 100,000 jobs answers a typo at once."""
    folder = job_id.rpartition("/")[0]
    pool = sorted(other for other in loaded if other.rpartition("/")[0] == folder) or sorted(loaded)
    if len(pool) > HINT_POOL:
        start = min(max(bisect.bisect(pool, job_id) - HINT_POOL // 2, 0), len(pool) - HINT_POOL)
        pool = pool[start:start + HINT_POOL]
    return difflib.get_close_matches(job_id, pool, n=3)
