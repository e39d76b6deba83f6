"""Reading jobs: the jobs loaded (by path and labels), and one job with its next runs.

A job is shown as its file wrote it (apsisd/jobs/jso.py), less the secrets
the caller may not see (api/job_texts.py shown_to). Job ids hold '/', so
one job's path is the rest of the URL.
"""
from __future__ import annotations

import asyncio

from aiohttp import web

from agentd.types import JobId
from apsisd.api.access import principal_of
from apsisd.api.job_texts import shown_to
from apsisd.api.replies import check_params, problem, single
from apsisd.api.state import scheduler_of, state_of
from apsisd.jobs.close_ids import close_matches
from apsisd.jobs.jso import job_jso
from apsisd.runs.jso import instant, run_jso
from apsisd.scheduler.operations import UnknownJob
from apsisd.scheduler.outlook import unstarted, upcoming

routes = web.RouteTableDef()


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
        close = close_matches(job_id, scheduler.jobs.jobs)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise problem(web.HTTPNotFound, f"{UnknownJob(job_id)}{hint}")
    due = upcoming(found, scheduler.clock.now())
    return web.json_response({
        "job": job_jso(found, shown_to(principal_of(request))),
        "next": [{"time": instant(each.time), "args": dict(each.args)} for each in due],
        "scheduled": [run_jso(run) for run in unstarted(scheduler, job_id)],
    })

