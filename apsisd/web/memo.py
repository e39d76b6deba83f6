"""What the pages keep between requests: each job's last run (scheduler/last_runs.py), followed from the app's
start, and each job's line of the jobs page (jobs_page.Lines). The runs from before the start are read in the
background, a job at a time, and the lines made, started again by the jobs page whenever it finds jobs not read
yet (loaded by a reload, or after the app started)."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

from aiohttp import web

from agentd.tasks import TaskRoom
from apsisd.api.keys import app_key
from apsisd.api.state import KEY, ApiState
from apsisd.scheduler.last_runs import LastRuns
from apsisd.web.jobs_lines import Lines

LAST_RUNS = app_key("apsis.web.last_runs", LastRuns)
LINES = app_key("apsis.web.lines", Lines)
CHUNK = 500  # lines made at a time in the background, the loop let run between
_SEEDING = app_key("apsis.web.seeding", list)
_ROOM = app_key("apsis.web.tasks", TaskRoom)


def install(app: web.Application) -> None:
    app[LAST_RUNS] = LastRuns()
    app[LINES] = Lines()
    app[_SEEDING] = [None]  # a box: the app's mapping is frozen once it runs
    app[_ROOM] = TaskRoom("web:memo")  # the background reading's task, ended with the app
    app.on_startup.append(_follow)
    app.on_cleanup.append(_stop)


def last_runs(app: web.Application) -> LastRuns:
    return cast(LastRuns, app[LAST_RUNS])


def lines(app: web.Application) -> Lines:
    return cast(Lines, app[LINES])


def read_older(app: web.Application) -> None:
    """Read the last runs of the jobs not read yet, unless that is under way."""
    scheduler = cast(ApiState, app[KEY]).scheduler
    memo = last_runs(app)
    box = cast("list[asyncio.Future[None] | None]", app[_SEEDING])
    if box[0] is not None and not box[0].done():
        return
    unread = [job_id for job_id in sorted(scheduler.jobs.jobs) if not memo.known(job_id)]
    if unread:
        box[0] = cast(TaskRoom, app[_ROOM]).spawn(_catch_up(memo, lines(app), scheduler, unread), "web:last-runs")


async def _catch_up(memo: LastRuns, made: Lines, scheduler: Any, job_ids: list[Any]) -> None:
    """The jobs' lines made, then their last runs read."""
    for start in range(0, len(job_ids), CHUNK):
        made.make(job for job_id in job_ids[start:start + CHUNK] if (job := scheduler.jobs.jobs.get(job_id)))
        await asyncio.sleep(0)
    loaded = scheduler.jobs
    made.warm(loaded, loaded.select, memo)
    await memo.seed(scheduler, job_ids)


async def _follow(app: web.Application) -> None:
    cast(ApiState, app[KEY]).scheduler.records.listeners.append(last_runs(app).see)
    read_older(app)


async def _stop(app: web.Application) -> None:
    with contextlib.suppress(ValueError):
        cast(ApiState, app[KEY]).scheduler.records.listeners.remove(last_runs(app).see)
    await cast(TaskRoom, app[_ROOM]).close()
