"""/runs: the runs, filtered by what the URL says, newest first or by schedule time, a page at a time; rows that
the live stream then keeps up to date (static/runs.js)."""
from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime

from aiohttp import web

from agentd.types import JobId
from apsisd.api.state import scheduler_of
from apsisd.jobs.model import Job
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler import history
from apsisd.web import run_filter
from apsisd.web.render import page
from apsisd.web.run_rows import rows
from apsisd.web.zones import job_zone

routes = web.RouteTableDef()


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/runs")


@routes.get("/runs")
async def runs(request: web.Request) -> web.Response:
    scheduler = scheduler_of(request)
    seq = scheduler.records.feed.last  # before the runs are read: what changes after is followed live
    shown = run_filter.read(request.query, {name: request.query.getall(name) for name in request.query})
    query = shown.query(scheduler.jobs)
    found, after = await history.runs_page(scheduler, query) if query is not None else ([], None)
    job = scheduler.jobs.jobs.get(JobId(shown.job)) if shown.job else None
    now = scheduler.clock.now()
    columns = job.params if job else ()
    table = rows(found, now=now, columns=columns, zones=_zones(found, scheduler.jobs.jobs),
                 job_link=functools.cache(lambda job_id: shown.url(job=job_id, before="")),
                 now_at=_now_row(found, now) if shown.order == "time" else None)
    return page(request, "runs.html", spliced=table, seq=seq, filter=shown, runs=found, next=after,
                states=list(State), origins=list(Origin), hosts=sorted(scheduler.router.hosts), columns=columns)


def _now_row(found: list[Run], now: datetime) -> int:
    """Where the line at now goes among runs by schedule time, newest first: before the first run due by now."""
    return next((index for index, run in enumerate(found) if run.schedule_time <= now), len(found))


def _zones(found: list[Run], jobs: Mapping[JobId, Job]) -> dict[str, str]:
    """Each shown job's zone (its schedules'), for the times' tooltips."""
    zones: dict[str, str] = {}
    for run in found:
        job = jobs.get(run.job_id)
        zone = job_zone(job) if job is not None else None
        if zone:
            zones[run.job_id] = zone
    return zones
