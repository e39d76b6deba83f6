"""LocalHost: runs on this machine's systemd, in-process, over D-Bus.

How an outcome is never lost: one connection subscribes before anything is
started; each run is tracked (by its unit's object path) before its unit is
created, so signals of a unit that ends at once are caught; units are pinned
with AddRef/RefUnit until their outcome is read. A run this process did not
see end (it ended while we were away, or while the bus was down) is read
back: from the unit if it is still loaded, else from PID 1's journal records
of it. See docs/host.md, "Outcomes".

The parts, each a module: making units (arming.py), following them by
systemd's signals (following.py), attaching to runs it did not start or lost
sight of (attaching.py), the limits of systemd's bus (budget.py), the checks
only this host can make (resolve.py), output from the journal
(journal_output.py); what they share is a LocalContext (context.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime

from dbus_fast import Message

from agentd.errors import HostError, RunNotFound
from agentd.host import Finished, HostEvent, OutputRecord, Started, StartResult, UnitState
from agentd.local.arming import start_arguments, start_unit, stop_timer
from agentd.local.attaching import attach, resync, tracker_for
from agentd.local.context import LocalContext
from agentd.local.following import look_again, on_signal
from agentd.local.journal_output import JournalOutput
from agentd.local.resolve import resolve, uid_of
from agentd.local.story import note
from agentd.spec import RunSpec, Stream, check, parse_signal
from agentd.systemd import journal, outcome, trust
from agentd.systemd.bus import NO_SUCH_UNIT, UNIT_EXISTS, BusCallError, SystemdBus
from agentd.systemd.units import UNIT_PATTERN, properties, run_id_of, run_identifier, unit_name
from agentd.types import RunId

log = logging.getLogger(__name__)

# How long an outcome nobody has read through events() stays in memory; after
# that, events() reads it back from the journal like any run we did not see.
KEEP_FINISHED = 600.0


class LocalHost:
    """The Host over this machine's systemd: the system manager as root, else the user's own."""

    def __init__(
        self, *, user_manager: bool | None = None, call_timeout: float = 30.0, keep_finished: float = KEEP_FINISHED,
    ) -> None:
        self.user_manager = os.geteuid() != 0 if user_manager is None else user_manager
        self._bus = SystemdBus(
            user_manager=self.user_manager,
            on_signal=self._on_signal,
            on_reconnect=self._resync,
            call_timeout=call_timeout,
        )
        self._ctx = LocalContext(bus=self._bus, user_manager=self.user_manager, keep_finished=keep_finished)
        self._output = JournalOutput(user_manager=self.user_manager, until_finished=self._until_finished)

    async def open(self) -> LocalHost:
        await self._ctx.tasks.open()
        await self._bus.connect()
        return self

    async def close(self) -> None:
        await self._ctx.tasks.close()
        await self._bus.close()

    async def __aenter__(self) -> LocalHost:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _on_signal(self, message: Message) -> None:
        on_signal(self._ctx, message)

    async def _resync(self) -> None:
        await resync(self._ctx)

    # -- the Host protocol ----------------------------------------------------

    async def start(self, spec: RunSpec, *, at: datetime | None = None) -> StartResult:
        check(spec)
        executable = resolve(spec, user_manager=self.user_manager)
        ctx = self._ctx
        tracker = ctx.trackers.get(spec.run_id)
        if tracker is not None:
            return StartResult(run_id=spec.run_id, unit=tracker.unit, adopted=True)
        tracker = ctx.track(spec.run_id)
        if spec.split_output:
            tracker.split_uid = uid_of(spec, user_manager=self.user_manager)
        # From here until systemd answers the start, this call settles the run: a re-check after a reconnect
        # meanwhile (the manager's start read again while systemd re-executes) would find no unit and say so.
        tracker.starting = True
        try:
            try:
                await ctx.budget.take_start_slot(tracker)
                ctx.budget.pin_at_start(tracker)
                props = properties(spec, executable, user_manager=self.user_manager, pin=tracker.pinned)
                start = await start_arguments(ctx, tracker, props, at)
                # A unit made and not yet started when systemd re-reads its file is refused (bad-setting):
                # made again.
                tracker.arm = start
                job = await start_unit(self._bus, start)
            finally:
                tracker.starting = False
        except BusCallError as exc:
            ctx.budget.unpin(tracker)
            if exc.name == UNIT_EXISTS:
                log.info("run %s: unit %s exists; adopting it", spec.run_id, tracker.unit,
                         extra={"action": "run_adopted"})
                ctx.budget.free_start_slot(tracker)
                await attach(ctx, tracker)
                return StartResult(run_id=spec.run_id, unit=tracker.unit, adopted=True)
            ctx.untrack(tracker)
            raise HostError(f"run {spec.run_id}: systemd did not start {tracker.unit}: {exc.text}") from exc
        except BaseException:
            ctx.budget.unpin(tracker)
            ctx.untrack(tracker)
            raise
        if start[0] == tracker.unit:
            tracker.start_job = job  # an armed run's is its timer's: the signals tell its own
        log.info("run %s started as %s", spec.run_id, tracker.unit, extra={"action": "run_started"})
        return StartResult(run_id=spec.run_id, unit=tracker.unit, adopted=False)

    async def events(self, run_id: RunId, *, since: datetime | None = None) -> AsyncIterator[HostEvent]:
        tracker = await tracker_for(self._ctx, run_id, since)
        async for event in tracker.stream():
            if isinstance(event, Finished):
                self._ctx.untrack(tracker)
            yield event

    async def stop(self, run_id: RunId) -> None:
        tracker = await tracker_for(self._ctx, run_id)
        if tracker.ended:
            return
        tracker.stop_requested = True
        journal.send(note(tracker, "stop", f"apsis: stopping {tracker.unit}"))
        if not tracker.started:
            await stop_timer(self._ctx, tracker)  # an armed run before its instant
        try:
            await self._bus.call("StopUnit", "ss", [tracker.unit, "replace"])
        except BusCallError as exc:
            if exc.name != NO_SUCH_UNIT:
                raise HostError(f"run {run_id}: systemd did not stop {tracker.unit}: {exc.text}") from exc
        log.info("run %s: stop requested", run_id, extra={"action": "run_stop"})
        if not tracker.started:
            await look_again(self._ctx, tracker)  # it may never start, and then no signal tells its end

    async def kill(self, run_id: RunId, signal: str | int) -> None:
        signum = parse_signal(signal)
        name = signum.name.removeprefix("SIG")
        tracker = await tracker_for(self._ctx, run_id)
        if tracker.ended:
            raise HostError(f"run {run_id} has ended; there is nothing to send {name} to")
        tracker.signals_sent.append(name)
        journal.send(note(tracker, "kill", f"apsis: sending SIG{name} to {tracker.unit}", APSIS_SIGNAL=name))
        try:
            await self._bus.call("KillUnit", "ssi", [tracker.unit, "all", int(signum)])
        except BusCallError as exc:
            raise HostError(f"run {run_id}: systemd did not signal {tracker.unit}: {exc.text}") from exc
        log.info("run %s: sent SIG%s", run_id, name, extra={"action": "run_kill"})

    async def list(self) -> list[UnitState]:
        (rows,) = await self._bus.call("ListUnitsByPatterns", "asas", [[], [UNIT_PATTERN]])
        states = []
        for name, _description, load, active, sub, *_rest in rows:
            run_id = run_id_of(name)
            if run_id is not None and outcome.exists({"LoadState": load, "ActiveState": active}):
                states.append(UnitState(run_id=run_id, unit=name, active_state=active, sub_state=sub))
        return states

    async def output(
        self, run_id: RunId, *, follow: bool = False, after_cursor: str | None = None, stream: Stream | None = None
    ) -> AsyncGenerator[OutputRecord, None]:
        source = await self._output_source(run_id, wait=follow)
        if source is None:
            return  # never started (or no trace of it): no output
        async with contextlib.aclosing(self._output.read(run_id, source, follow=follow, after_cursor=after_cursor,
                                                         stream=stream)) as records:
            async for record in records:
                yield record

    async def output_gaps(self, run_id: RunId, started: datetime) -> tuple[str, ...]:
        gaps = []
        try:
            async with asyncio.timeout(self._bus.call_timeout):
                kept = await journal.oldest_time(user=self.user_manager)
                # A user manager's lines are rate-limited as user@UID.service's, which names no run.
                dropped = 0 if self.user_manager else await journal.suppressed(unit_name(run_id), since=started)
        except (TimeoutError, HostError) as exc:
            log.warning("run %s: could not tell whether its output is whole: %s", run_id, exc)
            return ()  # cannot tell: no claim either way
        if kept is not None and kept > started:
            gaps.append(f"the journal has rotated away what was written before {kept.isoformat()}, and this run "
                        f"started at {started.isoformat()}")
        if dropped:
            gaps.append(f"journald suppressed {dropped} of its lines (its rate limit)")
        return tuple(gaps)

    async def _output_source(self, run_id: RunId, *, wait: bool) -> trust.OutputSource | None:
        """Where the run's output came from, as systemd and apsisd's notes tell it; with `wait`, once it started."""
        try:
            tracker = await tracker_for(self._ctx, run_id)
        except RunNotFound:
            return None
        if wait and not tracker.started:
            async for event in tracker.stream():
                if isinstance(event, Started | Finished):
                    break
        # A run that ends as it starts may have no "Started" record of PID 1's (it logs "Failed to start"
        # instead): its end, from PID 1 too, names the invocation as well.
        started = next((e for e in tracker.events if isinstance(e, Started)), None)
        told = started or tracker.finished
        if told is None:
            return None
        return trust.OutputSource(unit=tracker.unit, identifier=run_identifier(run_id),
                                  invocation_id=told.invocation_id or None, writer=tracker.writer)

    async def _until_finished(self, run_id: RunId) -> None:
        """Wait for the run's end without consuming it: releasing the tracker is events()'s alone."""
        tracker = await tracker_for(self._ctx, run_id)
        async for _event in tracker.stream():
            pass

    def drop_bus(self) -> None:
        """Lose the D-Bus connection as a crashed bus would; the host reconnects by itself."""
        self._bus.drop()
