"""/runs/{run_id}: one run, everything known of it, its output following live (static/run.js), and the actions its
state allows, each confirmed: in a dialog, or, with JavaScript off, on a page of its own (GET), then done (POST)."""
from __future__ import annotations

import json

from aiohttp import web

from agentd.errors import SpecError
from agentd.types import RunId
from apsisd.api.access import principal_of, who
from apsisd.api.routes.runs import RUN_ID
from apsisd.api.state import scheduler_of
from apsisd.errors import TransitionError, UnknownRun
from apsisd.rights import Right
from apsisd.runs.jso import run_jso
from apsisd.runs.model import Run
from apsisd.runs.state import FINISHED, State
from apsisd.scheduler import history, operations
from apsisd.scheduler.dependencies import dependencies
from apsisd.scheduler.routing import HostGone
from apsisd.scheduler.service import Scheduler
from apsisd.web.actions import ACTIONS, MARKS, allowed
from apsisd.web.render import page, refusal
from apsisd.web.zones import job_zone

routes = web.RouteTableDef()


async def _the_run(request: web.Request, scheduler: Scheduler) -> Run:
    run_id = RunId(request.match_info["run_id"])
    try:
        return await operations.current(scheduler, run_id)
    except UnknownRun:
        raise refusal(request, web.HTTPNotFound, "No such run", f"There is no run {run_id}.") from None


@routes.get(f"/runs/{{run_id:{RUN_ID.pattern}}}")
async def run_page(request: web.Request) -> web.Response:
    scheduler = scheduler_of(request)
    seq = scheduler.records.feed.last  # before the run is read: what changes after is followed live
    run = await _the_run(request, scheduler)
    log = await history.run_log(scheduler, run.id)
    job = scheduler.jobs.jobs.get(run.job_id)
    try:
        found = await dependencies(scheduler, run)
    except operations.UnknownJob:
        found = None
    operating = principal_of(request).right >= Right.OPERATE
    # The times in the order they happen.
    times = sorted(run.times.items(), key=lambda item: list(State).index(item[0]))
    return page(request, "run.html", seq=seq, run=run, log=log, times=times, job=job,
                zone=job_zone(job) if job else None, dependencies=found, actions=allowed(run) if operating else [],
                marks=[state for state in MARKS if state != run.state] if operating and run.state in FINISHED
                else [], now=scheduler.clock.now(),
                split=run.spec is not None and run.spec.split_output,
                jso=json.dumps(run_jso(run), indent=2))


@routes.get(f"/runs/{{run_id:{RUN_ID.pattern}}}/{{action:[a-z]+}}")
async def confirm_page(request: web.Request) -> web.Response:
    """The question the dialog asks, as a page: for a browser without JavaScript."""
    scheduler = scheduler_of(request)
    run = await _the_run(request, scheduler)
    name = request.match_info["action"]
    if name == "mark":
        return page(request, "confirm.html", run=run, action=None, marks=[s for s in MARKS if s != run.state])
    action = ACTIONS.get(name)
    if action is None:
        raise refusal(request, web.HTTPNotFound, "No such action", f"There is no action {name!r} on a run.")
    return page(request, "confirm.html", run=run, action=action, marks=[])


@routes.post(f"/runs/{{run_id:{RUN_ID.pattern}}}/{{action:[a-z]+}}")
async def act(request: web.Request) -> web.Response:
    """Do it (the access check has made sure of the right and the form's token), then back to the run."""
    scheduler = scheduler_of(request)
    run_id = RunId(request.match_info["run_id"])
    name = request.match_info["action"]
    form = await request.post()
    action = ACTIONS.get(name)
    try:
        if name == "mark":
            state = next((state for state in FINISHED if state == form.get("state")), None)
            if state is None:
                raise refusal(request, web.HTTPBadRequest, "Not marked", "Choose the finished state to mark the run "
                                                                         "as: success, failure, error or skipped.")
            done = await operations.mark_as(scheduler, run_id, state, who(request))
        elif action is None:
            raise refusal(request, web.HTTPNotFound, "No such action", f"There is no action {name!r} on a run.")
        else:
            done = await action.operation(scheduler, run_id, who(request))
    except (UnknownRun, operations.UnknownJob) as exc:
        raise refusal(request, web.HTTPNotFound, "Not done", str(exc)) from None
    except (TransitionError, HostGone) as exc:
        raise refusal(request, web.HTTPConflict, "Not done", str(exc)) from None
    except SpecError as exc:
        raise refusal(request, web.HTTPBadRequest, "Not done", exc.problem) from None
    raise web.HTTPSeeOther(f"/runs/{done.id}")

