"""/jobs/{job_id}: one job, everything its file says (the description as Markdown, made safe: web/markdown.py;
the program and actions as written, less the secrets the caller may not see), when it runs next, its recent runs,
and, for callers who may operate, a form to start a run with args: through the API with JavaScript
(static/job.js), or POST /jobs/{job_id}/run without it. An unknown job is a 404 page with the ids like it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from aiohttp import web

from agentd.types import JobId
from apsisd.api.access import principal_of, who
from apsisd.api.job_texts import shown_to
from apsisd.api.state import scheduler_of
from apsisd.jobs.close_ids import close_matches
from apsisd.jobs.jso import job_jso
from apsisd.jobs.model import Job
from apsisd.rights import Right
from apsisd.runs.state import State
from apsisd.scheduler import history, operations
from apsisd.scheduler.outlook import unstarted, upcoming
from apsisd.store.base import RunQuery
from apsisd.web.markdown import to_html
from apsisd.web.render import page, refusal
from apsisd.web.schedule_words import words
from apsisd.web.zones import job_zone

routes = web.RouteTableDef()
RECENT = 20  # runs shown; the rest through the runs page
STARTED = frozenset(State) - {State.NEW, State.SCHEDULED, State.WAITING}  # the recent runs: under way or ended
ARG = "arg:"  # the start form's field of each param: arg:NAME (no param can then be taken for `csrf`)


def as_yaml(value: Any) -> str:
    """A part of the job as its file would write it."""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False).strip()


def _the_job(request: web.Request) -> Job:
    scheduler = scheduler_of(request)
    job_id = JobId(request.match_info["job_id"])
    job = scheduler.jobs.jobs.get(job_id)
    if job is None:
        close = close_matches(job_id, scheduler.jobs.jobs)
        held = " It is held: its file has problems (see Control) and it is not scheduled until a reload reads it." \
            if job_id in scheduler.jobs.held else ""
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise refusal(request, web.HTTPNotFound, "No such job", f"There is no job {job_id} in the jobs folder."
                                                                f"{held}{hint}", links=close)
    return job


async def _job_page(request: web.Request, job: Job, status: int = 200, problem: str | None = None,
                    given: Mapping[str, str] | None = None) -> web.Response:
    scheduler = scheduler_of(request)
    seq = scheduler.records.feed.last  # before the runs are read: what changes after is followed live
    jso = job_jso(job, shown_to(principal_of(request)))
    recent, more = await history.runs_page(scheduler, RunQuery(job_id=job.id, states=STARTED, limit=RECENT))
    return page(request, "job.html", status=status, seq=seq, job=job, jso=jso,
                description=to_html(job.metadata.description),
                schedules=[(words(schedule), as_yaml(item)) for schedule, item in zip(job.schedules, jso["schedules"],
                                                                                       strict=False)],
                upcoming=upcoming(job, scheduler.clock.now()), unstarted=unstarted(scheduler, job.id),
                program=as_yaml(jso["program"]), conditions=[as_yaml(item) for item in jso["conditions"]],
                actions=[as_yaml(item) for item in jso["actions"]], retry=jso["retry"], scheduling=jso["scheduling"],
                as_yaml=as_yaml, recent=recent, more=more is not None, zone=job_zone(job), now=scheduler.clock.now(),
                operating=principal_of(request).right >= Right.OPERATE, problem=problem, given=given or {}, arg=ARG)


@routes.get("/jobs/{job_id:.+}")
async def job_page(request: web.Request) -> web.Response:
    return await _job_page(request, _the_job(request))


@routes.post("/jobs/{job_id:.+}/run")
async def start_run(request: web.Request) -> web.Response:
    """A run of the job now, with the form's args (what POST /api/v1/runs does); back to the form if refused."""
    job = _the_job(request)
    form = await request.post()
    args = {name[len(ARG):]: str(value) for name, value in form.items() if name.startswith(ARG)}
    try:
        run = await operations.create(scheduler_of(request), job.id, args, None, who(request))
    except operations.BadArgs as exc:
        return await _job_page(request, job, status=400, problem=str(exc), given=args)
    raise web.HTTPSeeOther(f"/runs/{run.id}")
