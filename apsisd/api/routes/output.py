"""A run's output as written, from the journal: whole, a byte range, or followed live until the run has ended.

`stream=stdout|stderr` needs a run whose program keeps them apart (`output: {split: true}`); `both` is every
line in the order the journal has them. A followed answer's headers come once the run has started (its spec,
which says whether it splits, is bound then), and it ends once the run has ended and all of its output is sent.

Every answer is sent as it is read from the journal, never held whole (an output may be gigabytes): a range is
answered in two reads, one that measures the output (for Content-Range, and 416) and one that sends the range and
stops at its end. Each answer holds one of the caller's streams (api/stream_slots.py).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping

from aiohttp import web

from agentd.errors import HostError
from agentd.spec import Stream
from apsisd.api.byte_range import ByteRange, RangeError, batched, parse_range, slice_bytes
from apsisd.api.lasting import cut, held, lasting, send
from apsisd.api.replies import check_params, flag, problem, the_run
from apsisd.api.state import scheduler_of
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.scheduler.routing import HostGone
from apsisd.scheduler.service import Scheduler

log = logging.getLogger("apsisd.api")
routes = web.RouteTableDef()
OCTETS = "application/octet-stream"
STREAMS = {"both": None, "stdout": Stream.STDOUT, "stderr": Stream.STDERR}
# Said on an output the journal no longer holds all of (rotated away): the client tells its reader.
INCOMPLETE = "Apsis-Output-Incomplete"
WRITE_SIZE = 1 << 16  # bytes of output sent at a time (a record is a line: one write each would be slow)


@routes.get("/api/v1/runs/{run_id}/output")
async def output(request: web.Request) -> web.StreamResponse:
    """?stream=both|stdout|stderr&follow=1; `Range: bytes=...` (one range; with follow, bytes=A- only)."""
    check_params(request, ("stream", "follow"))
    with held(request):
        return await _answer(request)


async def _answer(request: web.Request) -> web.StreamResponse:
    follow = flag(request, "follow")
    stream = _stream(request)
    wanted = _range(request)
    skip = _resume_from(wanted) if follow else 0
    scheduler = scheduler_of(request)
    run = await the_run(request, scheduler)
    _check_split(scheduler, run, stream)
    if run.unit is not None:
        try:
            scheduler.host_of(run)
        except HostGone as exc:
            raise problem(web.HTTPServiceUnavailable, f"run {run.id}: its output is on its host: {exc}") from None
    if follow:
        with lasting(request):
            return await _follow(request, scheduler, run, stream, skip)
    gaps = await _gaps(scheduler, run)
    if wanted is None:
        return await _send(request, _records(scheduler, run, stream, follow=False), 0, None, gaps)
    total = await _measure(scheduler, run, stream)
    selected = wanted.within(total)
    if selected is None:
        raise problem(web.HTTPRequestRangeNotSatisfiable, f"{wanted} selects nothing of the output's {total} bytes",
                      **{"Content-Range": f"bytes */{total}"})
    start, stop = selected
    return await _send(request, _records(scheduler, run, stream, follow=False), start, stop,
                       {"Content-Range": f"bytes {start}-{stop - 1}/{total}", **gaps})


async def _gaps(scheduler: Scheduler, run: Run) -> dict[str, str]:
    """The header that says what the output lacks (rotated away, suppressed by journald): an output the journal
    no longer holds whole is never sent as if it were."""
    started = run.times.get(State.RUNNING) or run.times.get(State.STARTING)
    if started is None:
        return {}
    gaps = await scheduler.host_of(run).output_gaps(run.id, started)
    return {INCOMPLETE: "; ".join(gaps)} if gaps else {}


async def _measure(scheduler: Scheduler, run: Run, stream: Stream | None) -> int:
    """The output's size in bytes, read through once and kept nowhere; 503 if the journal cannot be read."""
    total = 0
    try:
        async with contextlib.aclosing(_records(scheduler, run, stream, follow=False)) as records:
            async for data in records:
                total += len(data)
    except HostError as exc:
        raise problem(web.HTTPServiceUnavailable, f"the journal could not be read: {exc}") from None
    return total


async def _send(request: web.Request, records: AsyncGenerator[bytes, None], start: int, stop: int | None,
                headers: Mapping[str, str] | None = None) -> web.StreamResponse:
    """Bytes `start` to `stop` of the records (None: all of them, 200; else 206 with `headers`), sent as they are
    read; 503 if the journal cannot be read before the first byte, a cut answer if it fails after."""
    response = web.StreamResponse(status=200 if stop is None else 206,
                                  headers={"Content-Type": OCTETS, "Accept-Ranges": "bytes", **(headers or {})})
    if stop is not None:
        response.content_length = stop - start
    sent = 0
    async with contextlib.aclosing(records), contextlib.aclosing(slice_bytes(records, start, stop)) as part, \
            contextlib.aclosing(batched(part, WRITE_SIZE)) as pieces:
        try:
            piece = await anext(pieces, b"")
        except HostError as exc:
            raise problem(web.HTTPServiceUnavailable, f"the journal could not be read: {exc}") from None
        await response.prepare(request)
        try:
            while piece:
                await send(request, response, piece)
                sent += len(piece)
                piece = await anext(pieces, b"")
        except ConnectionResetError:
            return response  # the client went away, or took nothing in time: nothing more to send
        except HostError as exc:
            log.warning("%s: reading the output failed: %s", request.path, exc, extra={"action": "output_failed"})
            cut(request)  # never a short output sent as whole
            return response
    if stop is not None and sent < stop - start:  # the journal lost some (rotated away) since it was measured
        cut(request)
    elif request.transport is not None and not request.transport.is_closing():
        await response.write_eof()
    return response


async def _follow(request: web.Request, scheduler: Scheduler, run: Run, stream: Stream | None, skip: int
                  ) -> web.StreamResponse:
    """The output as it is written, from byte `skip` on; once the run has started (or ended without)."""
    if run.unit is None and not run.finished:
        log.debug("run %s: its output is followed once it starts", run.id, extra={"action": "output_waiting"})
    started = await scheduler.records.until(run.id, lambda r: r.unit is not None or r.finished)
    if started is None:
        raise problem(web.HTTPNotFound, f"run {run.id} was withdrawn (its job changed or went) before it started")
    _check_split(scheduler, started, stream)
    response = web.StreamResponse(headers={"Content-Type": OCTETS, "Accept-Ranges": "bytes",
                                           **await _gaps(scheduler, started)})
    await response.prepare(request)
    try:
        records = _records(scheduler, started, stream, follow=not started.finished)
        async with contextlib.aclosing(records), contextlib.aclosing(slice_bytes(records, skip)) as chunks:
            async for chunk in chunks:
                await send(request, response, chunk)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: nothing more to send (the journal reader is closed)
    except HostError as exc:
        log.warning("run %s: following its output failed: %s", run.id, exc, extra={"action": "output_failed"})
        cut(request)
    return response


async def _records(scheduler: Scheduler, run: Run, stream: Stream | None, *, follow: bool
                   ) -> AsyncGenerator[bytes, None]:
    """The data of the run's output records; none for a run that never had a unit."""
    if run.unit is None:
        return
    async with contextlib.aclosing(scheduler.host_of(run).output(run.id, follow=follow, stream=stream)) as records:
        async for record in records:
            yield record.data


def _stream(request: web.Request) -> Stream | None:
    text = request.query.get("stream", "both")
    if text not in STREAMS:
        raise problem(web.HTTPBadRequest, f"stream must be {', '.join(STREAMS)}, not {text!r}")
    return STREAMS[text]


def _range(request: web.Request) -> ByteRange | None:
    header = request.headers.get("Range")
    try:
        return None if header is None else parse_range(header)
    except RangeError as exc:
        raise problem(web.HTTPBadRequest, str(exc)) from None


def _resume_from(wanted: ByteRange | None) -> int:
    """Where a followed output starts: byte A of `bytes=A-` (the one range an output still growing has)."""
    if wanted is None:
        return 0
    if wanted.first is None or wanted.last is not None:
        raise problem(web.HTTPBadRequest, f"with follow, Range must be bytes=A- (the output from byte A on, as it "
                                          f"is written), not {wanted}")
    return wanted.first


def _check_split(scheduler: Scheduler, run: Run, stream: Stream | None) -> None:
    """409 for stdout or stderr of a run whose output is one stream. Its spec says, once bound; before, the job's
    program as loaded now (which the spec will be bound from)."""
    if stream is None:
        return
    job = scheduler.jobs.job_of(run)
    splits = run.spec.split_output if run.spec is not None else job is not None and job.program.output.split
    if not splits:
        raise problem(web.HTTPConflict, f"run {run.id} keeps stdout and stderr as one stream: ask for stream=both; "
                                        f"for runs to keep them apart, the job's program must set "
                                        f"output: {{split: true}}")
