"""Following a run's unit by systemd's signals: Started when it runs, Finished once it has ended and what it
leaves (output, CPU time) is read, its unit made again if systemd refused it before it started."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any

from dbus_fast import Message

from agentd.errors import HostError
from agentd.host import Started
from agentd.local.arming import remake
from agentd.local.context import LocalContext
from agentd.local.story import journal_story, note
from agentd.local.tracker import Tracker
from agentd.systemd import journal, outcome, trust
from agentd.systemd.bus import JOB_IFACE, SERVICE_IFACE, UNIT_IFACE, BusCallError
from agentd.systemd.streams import DRAIN_WITHIN, stream_keys, wait_closed
from agentd.systemd.units import run_identifier

log = logging.getLogger(__name__)

REFUSED_LOAD_STATES = ("bad-setting", "error")  # a unit systemd re-read and will not start
READ_TRIES = 10  # reads of a unit's properties while its signals keep coming (read_settled)


def on_signal(ctx: LocalContext, message: Message) -> None:
    """What systemd says: a reload done (look at the runs not yet started), or a unit's properties changed."""
    if message.member == "Reloading" and message.body == [False]:
        _check_unstarted(ctx)
    if message.member != "PropertiesChanged":
        return
    tracker = ctx.by_path.get(message.path or "")
    if tracker is None or tracker.finished is not None:
        return
    interface, changed, _invalidated = message.body
    tracker.props.update({k: v.value for k, v in changed.items() if k in outcome.PROPERTIES})
    tracker.signals_heard += 1
    if tracker.attaching:
        return
    if interface == UNIT_IFACE and "Job" in changed:
        check_stop_job(ctx, tracker)
    advance(ctx, tracker)


def check_stop_job(ctx: LocalContext, tracker: Tracker) -> None:
    """A stop job on a running unit means someone asked it to stop (apsis, or systemctl stop)."""
    note_start_job(tracker)
    job_path = stop_job_candidate(tracker)
    if job_path is None:
        return

    async def look() -> None:
        try:
            if await ctx.bus.get(job_path, JOB_IFACE, "JobType") == "stop":
                tracker.stop_requested = True
        except HostError:
            if job_path == tracker.start_job:
                return  # the start call's reply came while we asked: it was the job that started the run
            # The job is done already: a stop that quick (an operator's systemctl stop of a run that dies on
            # SIGTERM) is in PID 1's journal records ("Stopping ...") if it was one.
            with contextlib.suppress(HostError):
                records, notes = await journal_story(tracker, user_manager=ctx.user_manager)
                stopped, _sent = outcome.requests_from_journal(records, notes)
                tracker.stop_requested = tracker.stop_requested or stopped

    ctx.spawn(tracker, look(), f"job-type:{tracker.run_id}")


def note_start_job(tracker: Tracker) -> None:
    """A job on a unit not yet running is the one that starts it (our call's, or its timer's).

    A short program's unit ends with its start job still queued (the job is
    done only once the unit is inactive again): without knowing it, every
    such run's end would look like a possible stop, and cost a read of the
    journal to tell.
    """
    job_id, job_path = tracker.props.get("Job") or (0, "/")
    if job_id and tracker.start_job is None and not tracker.started \
            and tracker.props.get("ActiveState") in ("inactive", "activating"):
        tracker.start_job = job_path


def stop_job_candidate(tracker: Tracker) -> str | None:
    """The unit's job if it may be a stop: a job on a running or ending unit, other than the one that started it."""
    job_id, job_path = tracker.props.get("Job") or (0, "/")
    if job_id == 0 or job_path == tracker.start_job \
            or tracker.props.get("ActiveState") not in ("active", "deactivating"):
        return None
    return str(job_path)


def advance(ctx: LocalContext, tracker: Tracker) -> None:
    """Act on what the run's properties now say: its start job done, its start, its end, a refusal."""
    props = tracker.props
    if tracker.start_slot is not None and props.get("ActiveState") not in (None, "activating") \
            and not (props.get("Job") or (0, "/"))[0]:
        ctx.budget.free_start_slot(tracker)  # the start job is done
    if not tracker.started and (
        outcome.has_started(props) or (outcome.has_ended(props) and props.get("ExecMainStartTimestamp"))
    ):
        started = outcome.started_from_properties(tracker.run_id, tracker.unit, props)
        _note_writer(tracker, started)
        tracker.emit(started)
    if outcome.has_ended(props) and not tracker.harvesting:
        tracker.harvesting = True
        ctx.spawn(tracker, _harvest(ctx, tracker), f"harvest:{tracker.run_id}")
    if tracker.arm is not None and not tracker.started and not tracker.rearming \
            and props.get("LoadState") in REFUSED_LOAD_STATES and not props.get("InvocationID"):
        tracker.rearming = True
        ctx.spawn(tracker, remake(ctx, tracker, tracker.arm), f"rearm:{tracker.run_id}")
    if _stopped_unstarted(tracker):
        _end_unstarted(ctx, tracker)


async def look_again(ctx: LocalContext, tracker: Tracker) -> None:
    """Read the unit's state now, rather than wait for a signal that may never come, and act on it."""
    tracker.props.update(await read_settled(ctx, tracker, (UNIT_IFACE,)))
    advance(ctx, tracker)


async def read_settled(ctx: LocalContext, tracker: Tracker, interfaces: tuple[str, ...]) -> dict[str, Any]:
    """The unit's properties, read again until no signal of the unit's came while they were read: merged into
    `props` at once (no await between), they then hide nothing newer.

    A signal handled while the reads are on their way may be older than
    the answer or newer: systemd's answer and its signals share one
    queue, but the answer's reader resumes later than the signal's
    handler runs. A newer one (the run's end) hidden by an older read
    would never be told again, and the run would never be told ended.
    After READ_TRIES reads the last is taken: a unit's signals come with
    its changes of state, which are few, so that takes a unit changing
    state all the while; any later change is told by its own signal.
    """
    props: dict[str, Any] = {}
    for _ in range(READ_TRIES):
        heard = tracker.signals_heard
        props = {}
        for interface in interfaces:
            props.update(await ctx.bus.get_all(tracker.path, interface))
        if tracker.signals_heard == heard:
            break
    return props


def _stopped_unstarted(tracker: Tracker) -> bool:
    """Stopped before it ever started (an armed run before its instant, a start job not yet run): the unit is
    inactive with no start job left and no invocation, and, never having changed state, will signal no end."""
    props = tracker.props
    return (tracker.stop_requested and not tracker.started and not tracker.starting and not tracker.harvesting
            and props.get("ActiveState") == "inactive" and not props.get("InvocationID")
            and not (props.get("Job") or (0, "/"))[0] and props.get("LoadState") not in outcome.GONE_LOAD_STATES)


def _end_unstarted(ctx: LocalContext, tracker: Tracker) -> None:
    tracker.harvesting = True  # nothing to read of it: told as ended now
    ctx.finish(tracker, outcome.finished_from_properties(
        tracker.run_id, tracker.unit, tracker.props, stop_requested=True, signals_sent=tuple(tracker.signals_sent)))
    ctx.budget.let_go(tracker)
    log.info("run %s: stopped before it started; it never will", tracker.run_id, extra={"action": "run_unstarted"})


def _check_unstarted(ctx: LocalContext) -> None:
    """systemd re-read its unit files: look again at each run made and not yet started (advance makes it again)."""
    for tracker in ctx.trackers.values():
        if tracker.arm is not None and not tracker.started and not tracker.rearming and not tracker.starting:
            ctx.spawn(tracker, _check_load_state(ctx, tracker), f"load-state:{tracker.run_id}")


async def _check_load_state(ctx: LocalContext, tracker: Tracker) -> None:
    """Note a refusal (bad-setting) for advance; any other state is the signals' to tell (a unit not yet
    made reads not-found, which would stick)."""
    try:
        state = await ctx.bus.get(tracker.path, UNIT_IFACE, "LoadState")
    except HostError as exc:
        log.warning("run %s: reading its unit's state after a reload: %s", tracker.run_id, exc)
        return
    if state in REFUSED_LOAD_STATES:
        tracker.props["LoadState"] = state
        advance(ctx, tracker)


def _note_writer(tracker: Tracker, started: Started) -> None:
    """Keep, and note in the journal, the process whose uid and pid mark a split run's output lines that
    journald read after it was gone (trust.py): once the unit is unloaded only the note tells them."""
    if tracker.split_uid is None or tracker.writer is not None or not started.main_pid or not started.start_time:
        return
    tracker.writer = trust.Writer(pid=started.main_pid, uid=tracker.split_uid, start=started.start_time)
    journal.send(note(tracker, "started", f"apsis: {tracker.unit} started, pid {started.main_pid}",
                      **trust.writer_note(tracker.writer, started.invocation_id)))


async def _harvest(ctx: LocalContext, tracker: Tracker) -> None:
    """Wait for journald to read the run's output, read what signals do not carry (CPU, memory), tell
    Finished, then let the unit go."""
    output_lost = None
    try:
        others = [t for t in tracker.pending if t is not asyncio.current_task()]
        if others:
            await asyncio.wait(others, timeout=ctx.bus.call_timeout)
        output_lost = await _drain(ctx, tracker)
        if not tracker.pinned:
            return  # the unit may be gone already: what it would say of a missing unit is not the truth
        tracker.props["CPUUsageNSec"] = await ctx.bus.get(tracker.path, SERVICE_IFACE, "CPUUsageNSec")
        if ctx.has_memory_peak is not False:
            try:
                tracker.props["MemoryPeak"] = await ctx.bus.get(tracker.path, SERVICE_IFACE, "MemoryPeak")
                ctx.has_memory_peak = True
            except BusCallError:
                ctx.has_memory_peak = False  # systemd < 255 does not keep it
    except HostError as exc:
        log.warning("run %s: could not read accounting: %s", tracker.run_id, exc)
    finally:
        finished = outcome.finished_from_properties(
            tracker.run_id, tracker.unit, tracker.props,
            stop_requested=tracker.stop_requested, signals_sent=tuple(tracker.signals_sent),
        )
        if output_lost is not None:
            finished = dataclasses.replace(finished, output_lost=output_lost)
        ctx.finish(tracker, finished)
        log.info("run %s finished: %s", tracker.run_id, finished.result, extra={"action": "run_finished"})
    _release(ctx, tracker)


async def _drain(ctx: LocalContext, tracker: Tracker) -> str | None:
    """What may be missing of the run's output: its unit waits (drain-streams) until journald has read it
    all, lest its tail fall under journald's default rate limit once the unit is gone (streams.py); a unit
    that ended before may have lost lines. Its end is told once journald has stored what it will."""
    if not ctx.streams.readable():
        return None  # not root: journald's streams cannot be seen (see docs/operations.md)
    keys = stream_keys(tracker.unit, run_identifier(tracker.run_id))
    if not ctx.streams.any_open(keys, now=True):
        return None
    lost = ("its unit ended before journald had read all of it (the wait is bounded by the stop grace period); "
            "lines past journald's default rate limit may be missing")
    log.warning("run %s: output may be incomplete: %s", tracker.run_id, lost, extra={"action": "output_lost"})
    if not await wait_closed(ctx.streams, keys, DRAIN_WITHIN):
        log.warning("run %s: journald had not read all of its output %g s after its end; telling the end "
                    "anyway", tracker.run_id, DRAIN_WITHIN, extra={"action": "output_late"})
    return lost


def _release(ctx: LocalContext, tracker: Tracker) -> None:
    """Let systemd unload the unit (and forget a failure) now that its outcome is read."""
    ctx.budget.let_go(tracker)
    if tracker.props.get("ActiveState") == "failed":
        ctx.bus.tell("ResetFailedUnit", "s", [tracker.unit])
