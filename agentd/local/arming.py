"""Making a run's units: started now, or armed on a timer of systemd's for its instant; asked again while systemd
is away; made again when systemd re-read them before they started and refused them."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from agentd.errors import HostError
from agentd.local.context import LocalContext
from agentd.local.tracker import Tracker
from agentd.systemd.bus import (
    MANAGER,
    NO_SUCH_UNIT,
    PROPERTIES,
    SYSTEMD_AWAY,
    UNIT_EXISTS,
    BusCallError,
    SystemdBus,
    UnansweredCall,
)
from agentd.systemd.units import SD_PATH, timer_name, timer_properties

log = logging.getLogger(__name__)

ARM_AHEAD_MIN = 0.002  # a start due further ahead than this (seconds) is armed on a timer of systemd's
START_RETRY = 0.2  # seconds between asking systemd again to start a unit, while it is away
REMAKE_POLL = 0.05  # seconds between asking systemd to make a unit it has not yet unloaded


async def start_arguments(ctx: LocalContext, tracker: Tracker, props: list[list], at: datetime | None) -> list[Any]:
    """StartTransientUnit's arguments for the run: its service now, or a timer with the service for `at`."""
    delay = (at - datetime.now(UTC)).total_seconds() if at is not None else 0.0
    if delay <= ARM_AHEAD_MIN:
        return [tracker.unit, "fail", props, []]
    # Armed: systemd creates the unit now and its own timer starts it on the instant, off the path
    # from due time to exec (creating a transient unit is most of a start's cost).
    instant = round((time.monotonic() + delay) * 1e6) - await _manager_startup(ctx)
    return [timer_name(tracker.run_id), "fail", timer_properties(tracker.run_id, instant), [[tracker.unit, props]]]


async def _manager_startup(ctx: LocalContext) -> int:
    """The manager's start on the monotonic clock (µs): what its timers' OnStartupSec counts from."""
    if ctx.manager_startup_usec is None:
        (variant,) = await asked_again(ctx.bus, "Get", "ss", [MANAGER, "UserspaceTimestampMonotonic"],
                                       path=SD_PATH, interface=PROPERTIES)
        ctx.manager_startup_usec = int(variant.value)
    return ctx.manager_startup_usec


async def start_unit(bus: SystemdBus, start: list[Any]) -> str:
    """StartTransientUnit, asked again while systemd is away: a unit it made before it went is found then
    (UnitExists, adopted), never made twice. Returns the path of the job that starts the unit (an armed run's
    timer's)."""
    (job,) = await asked_again(bus, "StartTransientUnit", "ssa(sv)a(sa(sv))", start)
    return str(job)


async def asked_again(bus: SystemdBus, member: str, signature: str, body: list[Any], **where: str) -> list[Any]:
    """A call of systemd's, asked again while systemd is away (re-executing, its bus connection lost) until the
    call timeout: what a start needs must not fail for a daemon-reexec in passing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bus.call_timeout
    while True:
        try:
            return await bus.call(member, signature, body, **where)
        except BusCallError as exc:
            if exc.name not in SYSTEMD_AWAY or loop.time() >= deadline:
                raise
            reason = exc.text
        except UnansweredCall as exc:
            if loop.time() >= deadline:
                raise
            reason = str(exc)
        log.warning("%s %s: systemd did not answer (%s); asking again", member, body[0] if body else "", reason,
                    extra={"action": "start_retry"})
        await asyncio.sleep(START_RETRY)


async def remake(ctx: LocalContext, tracker: Tracker, start: list[Any]) -> None:
    """Make a run's unit again that systemd read back from its file before it started (daemon-reload,
    -reexec): an armed run's timer and service, or a service whose start was still queued.

    systemd 252 writes the service's ExecStartEx= to that file and cannot
    parse it back: the service is then bad-setting and would never start.
    The units are made anew, an armed run's for the same instant (one
    passed meanwhile fires at once). The run cannot have started in
    between: systemd does not start a bad-setting unit.
    """
    timer = timer_name(tracker.run_id)
    log.warning("run %s: systemd re-read %s and cannot start it; arming it again", tracker.run_id,
                tracker.unit, extra={"action": "run_rearmed"})
    bus = ctx.bus
    try:
        for member, unit in (("StopUnit", timer), ("UnrefUnit", tracker.unit), ("ResetFailedUnit", timer),
                             ("ResetFailedUnit", tracker.unit)):
            with contextlib.suppress(BusCallError):  # already so
                await bus.call(member, "ss" if member == "StopUnit" else "s",
                               [unit, "replace"] if member == "StopUnit" else [unit])
        ctx.budget.unpin(tracker)
        async with asyncio.timeout(bus.call_timeout):
            while True:  # systemd unloads the old units on its next turn
                try:
                    await bus.call("StartTransientUnit", "ssa(sv)a(sa(sv))", start)
                    break
                except BusCallError as exc:
                    if exc.name != UNIT_EXISTS:
                        raise
                await asyncio.sleep(REMAKE_POLL)
        service = start[3][0][1] if start[3] else start[2]  # armed: the timer's auxiliary unit
        if any(name == "AddRef" and value.value for name, value in service):
            ctx.budget.pinned(tracker)
        tracker.props.pop("LoadState", None)
    except (HostError, TimeoutError) as exc:
        log.error("run %s: arming it again failed: %s", tracker.run_id, exc, extra={"action": "run_rearm_failed"})
    finally:
        tracker.rearming = False


async def stop_timer(ctx: LocalContext, tracker: Tracker) -> None:
    """Stop the run's timer, if it was armed and has not fired: it will not start the run then."""
    try:
        await ctx.bus.call("StopUnit", "ss", [timer_name(tracker.run_id), "replace"])
    except BusCallError as exc:
        if exc.name != NO_SUCH_UNIT:  # not armed, or fired already
            raise HostError(f"run {tracker.run_id}: systemd did not stop its timer: {exc.text}") from exc
