"""Attaching to a run this host did not start, or lost sight of: its unit if systemd has it, else its story in
the journal. A run is lost only once neither systemd nor the journal has it after SETTLE seconds."""
from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from typing import Any

from agentd.errors import RunNotFound
from agentd.local.context import LocalContext
from agentd.local.following import advance, check_stop_job, read_settled
from agentd.local.story import journal_story
from agentd.local.tracker import Tracker
from agentd.systemd import outcome, trust
from agentd.systemd.bus import BAD_UNIT_SETTING, NO_SUCH_UNIT, SERVICE_IFACE, UNIT_IFACE, BusCallError
from agentd.systemd.units import splits_output
from agentd.types import RunId

log = logging.getLogger(__name__)

# A run that started and whose unit systemd does not list, with no end in the journal, is looked for again this
# long (seconds) before its outcome is called lost: systemd and journald may still be settling after a reload,
# a re-exec or a restart of journald.
SETTLE = 10.0
SETTLE_POLL = 0.25


async def tracker_for(ctx: LocalContext, run_id: RunId, since: datetime | None = None) -> Tracker:
    """The run's tracker, attaching to its unit (or its journal) the first time we are asked; RunNotFound when
    neither has a trace of it."""
    tracker = ctx.trackers.get(run_id)
    if tracker is None:
        tracker = ctx.track(run_id)
        tracker.since = since
        attached: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        tracker.attached = attached
        ctx.spawn(tracker, _attach_into(ctx, tracker, attached), f"attach:{run_id}")
    if tracker.attached is not None:
        try:
            await asyncio.shield(tracker.attached)
        except BaseException:
            ctx.untrack(tracker)
            raise
    return tracker


async def _attach_into(ctx: LocalContext, tracker: Tracker, attached: asyncio.Future[None]) -> None:
    """Attach, and tell how it went to everyone waiting on `attached` (the first asker, and any other meanwhile)."""
    try:
        await attach(ctx, tracker)
    except asyncio.CancelledError:
        attached.cancel()
        raise
    except Exception as exc:
        attached.set_exception(exc)
    else:
        attached.set_result(None)


async def attach(ctx: LocalContext, tracker: Tracker) -> None:
    """Follow a unit we did not start (or lost sight of), or read its end from the journal.

    Signals arriving meanwhile are merged but not acted on until the
    snapshot and the journal's requests are in: an outcome told early
    would lack them.
    """
    tracker.attaching = True
    try:
        while (snapshot := await _look(ctx, tracker)) is None:
            if await _recover(ctx, tracker):
                return
        tracker.props.update(snapshot)  # signals from now on are newer, and merge over it
        # Whoever asked for a stop or sent a signal before we looked (a
        # previous apsis, an operator) said so in the journal.
        records, notes = await journal_story(tracker, user_manager=ctx.user_manager)
        stopped, sent = outcome.requests_from_journal(records, notes)
        tracker.writer = tracker.writer or trust.writer_from_notes(
            notes, outcome.invocation_hex(snapshot.get("InvocationID")))
        if tracker.writer is None and splits_output(snapshot):
            uid = snapshot.get("UID")
            tracker.split_uid = uid if isinstance(uid, int) and uid < 2**32 - 1 else os.geteuid()
        tracker.stop_requested = tracker.stop_requested or stopped
        tracker.signals_sent.extend(s for s in sent if s not in tracker.signals_sent)
    finally:
        tracker.attaching = False
    if tracker.finished is None:
        check_stop_job(ctx, tracker)
        advance(ctx, tracker)


async def _look(ctx: LocalContext, tracker: Tracker) -> dict[str, Any] | None:
    """The unit's properties, pinned; None when systemd has no such unit (or only an earlier run's).

    A unit systemd re-read and could not parse (bad-setting) cannot be
    pinned; it is followed unpinned (its end is in its signals)."""
    try:
        if not tracker.pinned:
            await ctx.bus.call("RefUnit", "s", [tracker.unit])
            ctx.budget.pinned(tracker)
    except BusCallError as exc:
        if exc.name == NO_SUCH_UNIT:
            return None
        if exc.name != BAD_UNIT_SETTING:
            raise
    snapshot = await read_settled(ctx, tracker, (UNIT_IFACE, SERVICE_IFACE))
    if not outcome.exists(snapshot) or _let_go_if_stale(ctx, tracker, snapshot):
        return None
    return snapshot


async def _listed(ctx: LocalContext, unit: str) -> bool:
    """Whether systemd has the unit, asked by name (its object path answers for any name, real or not)."""
    (rows,) = await ctx.bus.call("ListUnitsByNames", "as", [[unit]])
    return any(outcome.exists({"LoadState": load, "ActiveState": active})
               for _name, _description, load, active, *_rest in rows)


def _let_go_if_stale(ctx: LocalContext, tracker: Tracker, snapshot: dict[str, Any]) -> bool:
    """A unit that ended before this run was committed to start (`since`) is an earlier run's of the same
    name, left loaded (a failed unit nobody reset): let go of it, so the run can be told apart and started."""
    if tracker.since is None or snapshot.get("ActiveState") not in ("failed", "inactive"):
        return False
    if (snapshot.get("StateChangeTimestamp") or 0) >= tracker.since.timestamp() * 1_000_000:
        return False
    log.warning("run %s: unit %s ended before this run was started; it is an earlier run's, reset",
                tracker.run_id, tracker.unit, extra={"action": "unit_stale"})
    ctx.budget.let_go(tracker)
    ctx.bus.tell("ResetFailedUnit", "s", [tracker.unit])  # the bus keeps order: a start after it is fresh
    return True


async def _recover(ctx: LocalContext, tracker: Tracker) -> bool:
    """The unit is gone: its story is what PID 1 and apsis wrote to the journal. False if the unit is there
    after all (look again).

    A run that started and has no end in the journal is lost only once
    systemd, asked by name, still has no such unit and the journal still
    no end after SETTLE seconds: systemd and journald may be settling
    (a reload, a re-exec, journald restarting), and a unit that exists
    is never lost.
    """
    deadline = asyncio.get_running_loop().time() + SETTLE
    while True:
        records, notes = await journal_story(tracker, user_manager=ctx.user_manager)
        started, finished = outcome.finished_from_journal(tracker.run_id, tracker.unit, records, notes)
        if tracker.finished is not None:
            return True
        if await _listed(ctx, tracker.unit):
            return False
        if finished is not None or (started is None and not tracker.events):
            break
        if asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(SETTLE_POLL)
    if started is None and finished is None and not tracker.events:
        raise RunNotFound(tracker.run_id)
    if started is not None and not tracker.started:
        tracker.writer = tracker.writer or trust.writer_from_notes(notes, started.invocation_id)
        tracker.emit(started)
    if finished is None:
        log.warning("run %s: unit %s is gone and the journal does not say how it ended",
                    tracker.run_id, tracker.unit, extra={"action": "run_outcome_lost"})
        finished = outcome.unknown_end(tracker.run_id, tracker.unit, started,
                                       stop_requested=tracker.stop_requested,
                                       signals_sent=tuple(tracker.signals_sent))
    ctx.finish(tracker, finished)
    log.info("run %s: outcome recovered from the journal: %s", tracker.run_id, finished.result,
             extra={"action": "run_recovered"})
    return True


async def resync(ctx: LocalContext) -> None:
    """After a reconnect: every run not yet ended is looked at again (signals were missed)."""
    # A run whose start call is on its way is not looked at: it has no unit yet, or the call finds it.
    unfinished = [t for t in ctx.trackers.values() if t.finished is None and not t.harvesting and not t.starting]
    log.info("re-checking %d runs after reconnect", len(unfinished), extra={"action": "runs_resync"})
    async with asyncio.TaskGroup() as group:
        for tracker in unfinished:
            group.create_task(_recheck(ctx, tracker), name=f"resync:{tracker.run_id}")


async def _recheck(ctx: LocalContext, tracker: Tracker) -> None:
    try:
        await attach(ctx, tracker)
    except Exception as exc:  # one run's failure to be looked at again is not the others'
        log.warning("run %s: re-checking after reconnect: %s", tracker.run_id, exc)
