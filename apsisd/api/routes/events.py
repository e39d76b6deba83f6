"""GET /api/v1/events: the live stream of changes to runs and jobs, as server-sent events, resumable.

A client that comes back with the number of the last change it had (the
SSE `Last-Event-ID` header, or `?since=`) is given what it missed before
the changes that come next: out of the feed's buffer exactly as it
happened (resume "exact"), or, when the buffer no longer holds its place
(apsisd restarted, or it was away long), each run changed since in its
latest state from the store, and every job (resume "changes"). A client
without a place gets a snapshot: the jobs, the runs under way and due soon,
and the newest finished ones. The subscription to the feed is made first, so
nothing that happens while the catching up is read falls in between.
Jobs are shown with the secrets the caller may see (api/job_texts.py).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from aiohttp import web

from apsisd.api.access import principal_of
from apsisd.api.job_texts import JobTexts, shown_to
from apsisd.api.lasting import held, send
from apsisd.api.replies import check_params, decimal, problem, shown, whole
from apsisd.api.state import ApiState, scheduler_of, state_of
from apsisd.jobs.jso import Shown
from apsisd.jobs.model import Job, in_folder
from apsisd.runs.jso import run_jso
from apsisd.runs.model import Run, run_number
from apsisd.runs.state import FINISHED, State
from apsisd.scheduler import history
from apsisd.scheduler.feed import Change, JobsChanged, Lagged, Subscription
from apsisd.store.base import RunQuery

routes = web.RouteTableDef()
KEEPALIVE = 15.0  # seconds between comment lines on a quiet stream: proxies and clients see it is alive
STORE_PAGE = 1000  # runs read from the store at a time when resuming from it


@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    check_params(request, ("since", "job", "recent", "ahead"))
    since = _since(request)
    prefix = request.query.get("job") or None
    recent = whole(request, "recent", 100, 0, 10_000)
    ahead = whole(request, "ahead", 3600, 0, 86_400)
    with held(request):
        return await _stream(request, since, prefix, recent, ahead)


async def _stream(request: web.Request, since: int | None, prefix: str | None, recent: int, ahead: int
                  ) -> web.StreamResponse:
    scheduler = scheduler_of(request)
    shown = shown_to(principal_of(request))
    texts = state_of(request).job_texts
    feed = scheduler.records.feed
    subscription = feed.subscribe()
    try:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        if since is not None and feed.covers(since):
            await send(request, response, _event("hello", {"seq": feed.last, "resume": "exact"}))
            done = await _write(request, response, feed.since(since), prefix, texts, shown)
            done = max(done, (since, 0))
        elif since is not None and since < history.next_seq(scheduler):
            await send(request, response, _event("hello", {"seq": feed.last, "resume": "changes"}))
            done = await _from_store(request, response, state_of(request), since, prefix, shown)
        else:
            done = await _snapshot(request, response, state_of(request), prefix, recent, ahead, shown)
        await _follow(request, response, subscription, done, prefix, texts, shown)
    except (ConnectionError, Lagged):
        pass  # the client went away, or fell behind and resumes from where it was
    finally:
        subscription.close()
    return response


def _since(request: web.Request) -> int | None:
    text = request.query.get("since", request.headers.get("Last-Event-ID"))
    if text is None or text == "":
        return None
    since = decimal(text)
    if since is None:
        raise problem(web.HTTPBadRequest, f"since (or Last-Event-ID) must be the number of a change, as the "
                                          f"stream's `id:` lines give them, not {shown(text)}")
    return since


async def _snapshot(request: web.Request, response: web.StreamResponse, state: ApiState, prefix: str | None,
                    recent: int, ahead: int, shown: Shown) -> tuple[int, int]:
    """The client's view to start from: the jobs, the runs under way (waiting, starting, running, stopping), the
    runs due within `ahead` seconds, and the `recent` newest finished. Written off the event loop, one run and one
    job at a time: it may be thousands of each, and a hundred clients may come at once."""
    scheduler = state.scheduler
    last = scheduler.records.feed.last  # before the store is read: a run finishing meanwhile comes as a change
    finished = await history.runs(scheduler, RunQuery(job_prefix=prefix, states=FINISHED, limit=recent)) \
        if recent else []
    soon = scheduler.clock.now() + timedelta(seconds=ahead)
    in_flight = [run for run in scheduler.ledger.all() if in_folder(run.job_id, prefix)
                 and (run.state is not State.SCHEDULED or run.schedule_time <= soon)]
    jobs = scheduler.jobs.select(prefix)
    state.job_texts.forget_others(scheduler.jobs.jobs)
    runs = sorted([*in_flight, *finished], key=lambda run: run_number(run.id))

    def text() -> bytes:
        encoded = ",".join(json.dumps(run_jso(run), separators=(",", ":")) for run in runs)
        return f'event: snapshot\ndata: {{"jobs":{state.job_texts.array(jobs, shown)},"runs":[{encoded}]}}\n\n'.encode()

    await send(request, response, _event("hello", {"seq": last, "resume": "none"}) + await asyncio.to_thread(text))
    return last, 0


async def _from_store(request: web.Request, response: web.StreamResponse, state: ApiState, since: int,
                      prefix: str | None, shown: Shown) -> tuple[int, int]:
    """Each run changed after `since` (as it is now) and each run withdrawn, then every job."""
    scheduler = state.scheduler
    last = since
    while True:
        page = await history.changed_since(scheduler, last, STORE_PAGE)
        chunk = b""
        for seq, change in page:
            last = seq
            if isinstance(change, Run):
                if in_folder(change.job_id, prefix):
                    chunk += _event("run", run_jso(change), seq)
            else:
                chunk += _event("run_deleted", {"run_id": change}, seq)
        await send(request, response, chunk)
        if sum(isinstance(change, Run) for _, change in page) < STORE_PAGE:
            break
    every = await asyncio.to_thread(state.job_texts.array, scheduler.jobs.select(prefix), shown)
    await send(request, response,
               f'event: jobs\ndata: {{"added":[],"changed":{every},"removed":[],"all":true}}\n\n'.encode())
    return last, 0


async def _follow(request: web.Request, response: web.StreamResponse, subscription: Subscription, done: tuple[int, int],
                  prefix: str | None, texts: JobTexts, shown: Shown) -> None:
    """The changes as they come, after `done` (what catching up sent already); a comment when it is quiet."""
    while (batch := await subscription.next_batch(KEEPALIVE)) is not None:
        if not batch:
            await send(request, response, b": keepalive\n\n")
            continue
        fresh = [change for change in batch if change.key > done]
        if fresh:
            done = fresh[-1].key
            await _write(request, response, fresh, prefix, texts, shown)


async def _write(request: web.Request, response: web.StreamResponse, changes: Iterable[Change], prefix: str | None,
                 texts: JobTexts, shown: Shown) -> tuple[int, int]:
    """Send the changes that concern the client; the place of the last one (of any, sent or not)."""
    done = (0, 0)
    chunk = b""
    for change in changes:
        done = change.key
        if change.jobs is not None:
            chunk += _jobs_event(change.jobs, prefix, texts, shown)
        elif prefix is None or change.deleted is not None or (
                change.run is not None and in_folder(change.run.job_id, prefix)):
            chunk += _encoded(change)
    await send(request, response, chunk)
    return done


def _encoded(change: Change) -> bytes:
    """A run's change as an event, encoded once for every client (a run holds no secret)."""
    if change.encoded is None:
        if change.run is not None:
            change.encoded = _event("run", run_jso(change.run), change.seq)
        else:
            change.encoded = _event("run_deleted", {"run_id": change.deleted}, change.seq)
    encoded: bytes = change.encoded
    return encoded


def _jobs_event(jobs: JobsChanged, prefix: str | None, texts: JobTexts, shown: Shown) -> bytes:
    """The jobs' texts as `shown` to this client (made once per job and level, as the snapshot's are)."""

    def array(changed: Iterable[Job]) -> str:
        return texts.array((job for job in changed if in_folder(job.id, prefix)), shown)

    removed = json.dumps([job_id for job_id in jobs.removed if in_folder(job_id, prefix)])
    return (f'event: jobs\ndata: {{"added":{array(jobs.added)},"changed":{array(jobs.changed)},'
            f'"removed":{removed},"all":false}}\n\n').encode()


def _event(name: str, data: Any, seq: int | None = None) -> bytes:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()




