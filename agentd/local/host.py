"""LocalHost: runs on this machine's systemd, in-process, over D-Bus.

How an outcome is never lost: one connection subscribes before anything is
started; each run is tracked (by its unit's object path) before its unit is
created, so signals of a unit that ends at once are caught; units are pinned
with AddRef/RefUnit until their outcome is read. A run this process did not
see end (it ended while we were away, or while the bus was down) is read
back: from the unit if it is still loaded (failed units stay), else from
PID 1's journal records of it. See docs/host.md, "Outcomes".
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import grp
import logging
import os
import pwd
import shutil
import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from typing import Any

from dbus_fast import Message

from agentd.errors import HostError, RunNotFound, SpecError
from agentd.host import Finished, HostEvent, OutputRecord, Started, StartResult, UnitState
from agentd.local.journal_output import JournalOutput
from agentd.local.tracker import Tracker
from agentd.spec import RunSpec, Stream, check, parse_signal
from agentd.systemd import journal, outcome, trust
from agentd.systemd.bus import (
    BAD_UNIT_SETTING,
    MANAGER,
    NO_SUCH_UNIT,
    SYSTEMD_AWAY,
    UNIT_EXISTS,
    BusCallError,
    SystemdBus,
    UnansweredCall,
)
from agentd.systemd.streams import DRAIN_WITHIN, OpenStreams, stream_keys, wait_closed
from agentd.systemd.units import (
    SD_PATH,
    SYSTEMD_CAT,
    UNIT_PATTERN,
    properties,
    run_id_of,
    run_identifier,
    splits_output,
    timer_name,
    timer_properties,
    unit_name,
)
from agentd.types import RunId

log = logging.getLogger(__name__)

UNIT_IFACE = "org.freedesktop.systemd1.Unit"
SERVICE_IFACE = "org.freedesktop.systemd1.Service"
JOB_IFACE = "org.freedesktop.systemd1.Job"
# systemd adds a bus match rule for each queued job (to track who asked) and for each pinned unit, and the bus
# allows its connection 512: past that, systemd drops off the bus (and forgets every subscriber). So at most
# MAX_STARTING start jobs are queued at once, and at most MAX_PINNED units pinned; runs beyond are not pinned,
# and their CPU time is not read (their outcome is, from the signals sent before the unit goes).
MAX_STARTING = 64
MAX_PINNED = 256
ARM_AHEAD_MIN = 0.002  # a start due further ahead than this (seconds) is armed on a timer of systemd's
REFUSED_LOAD_STATES = ("bad-setting", "error")  # a unit systemd re-read and will not start
START_RETRY = 0.2  # seconds between asking systemd again to start a unit, while it is away
# How long an outcome nobody has read through events() stays in memory; after
# that, events() reads it back from the journal like any run we did not see.
KEEP_FINISHED = 600.0
# A run that started and whose unit systemd does not list, with no end in the journal, is looked for again this
# long (seconds) before its outcome is called lost: systemd and journald may still be settling after a reload,
# a re-exec or a restart of journald.
SETTLE = 10.0
SETTLE_POLL = 0.25


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
        self._trackers: dict[RunId, Tracker] = {}
        self._by_path: dict[str, Tracker] = {}
        self._has_memory_peak: bool | None = None
        self._keep_finished = keep_finished
        self._start_slots = asyncio.Semaphore(MAX_STARTING)
        self._startup_usec: int | None = None
        self._output = JournalOutput(user_manager=self.user_manager, until_finished=self._until_finished)
        self._pinned = 0
        self._streams = OpenStreams()

    async def open(self) -> LocalHost:
        await self._bus.connect()
        return self

    async def close(self) -> None:
        tasks = [task for tracker in self._trackers.values() for task in tracker.pending]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._bus.close()

    async def __aenter__(self) -> LocalHost:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- starting ---------------------------------------------------------

    async def start(self, spec: RunSpec, *, at: datetime | None = None) -> StartResult:
        check(spec)
        executable = self._resolve(spec)
        tracker = self._trackers.get(spec.run_id)
        if tracker is not None:
            return StartResult(run_id=spec.run_id, unit=tracker.unit, adopted=True)
        tracker = self._track(spec.run_id)
        if spec.split_output:
            tracker.split_uid = self._uid_of(spec)
        await self._take_start_slot(tracker)
        tracker.pinned = self._pinned < MAX_PINNED
        self._pinned += tracker.pinned
        props = properties(spec, executable, user_manager=self.user_manager, pin=tracker.pinned)
        delay = (at - datetime.now(UTC)).total_seconds() if at is not None else 0.0
        if delay > ARM_AHEAD_MIN:
            # Armed: systemd creates the unit now and its own timer starts it on the instant, off the path
            # from due time to exec (creating a transient unit is most of a start's cost).
            instant = round((time.monotonic() + delay) * 1e6) - await self._manager_startup()
            start = [timer_name(spec.run_id), "fail", timer_properties(spec.run_id, instant),
                     [[tracker.unit, props]]]
        else:
            start = [tracker.unit, "fail", props, []]
        # A unit made and not yet started when systemd re-reads its file is refused (bad-setting): made again.
        tracker.arm = start
        tracker.starting = True
        try:
            try:
                await self._start_unit(start)
            finally:
                tracker.starting = False
        except BusCallError as exc:
            self._unpin(tracker)
            if exc.name == UNIT_EXISTS:
                log.info("run %s: unit %s exists; adopting it", spec.run_id, tracker.unit,
                         extra={"action": "run_adopted"})
                self._free_start_slot(tracker)
                await self._attach(tracker)
                return StartResult(run_id=spec.run_id, unit=tracker.unit, adopted=True)
            self._untrack(tracker)
            raise HostError(f"run {spec.run_id}: systemd did not start {tracker.unit}: {exc.text}") from exc
        except BaseException:
            self._unpin(tracker)
            self._untrack(tracker)
            raise
        log.info("run %s started as %s", spec.run_id, tracker.unit, extra={"action": "run_started"})
        return StartResult(run_id=spec.run_id, unit=tracker.unit, adopted=False)

    async def _start_unit(self, start: list[Any]) -> None:
        """StartTransientUnit, asked again while systemd is away (re-executing, its bus connection lost) until the
        call timeout: a unit it made before it went is found then (UnitExists, adopted), never made twice."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._bus.call_timeout
        while True:
            try:
                await self._bus.call("StartTransientUnit", "ssa(sv)a(sa(sv))", start)
                return
            except BusCallError as exc:
                if exc.name not in SYSTEMD_AWAY or loop.time() >= deadline:
                    raise
                reason = exc.text
            except UnansweredCall as exc:
                if loop.time() >= deadline:
                    raise
                reason = str(exc)
            log.warning("starting %s: systemd did not answer (%s); asking again", start[0], reason,
                        extra={"action": "start_retry"})
            await asyncio.sleep(START_RETRY)

    async def _manager_startup(self) -> int:
        """The manager's start on the monotonic clock (µs): what its timers' OnStartupSec counts from."""
        if self._startup_usec is None:
            self._startup_usec = int(await self._bus.get(SD_PATH, MANAGER, "UserspaceTimestampMonotonic"))
        return self._startup_usec

    async def _take_start_slot(self, tracker: Tracker) -> None:
        """A start slot, held until the run's start job is done (it started, or ended): at most MAX_STARTING
        start jobs wait in systemd, and the call timeout bounds how long one run can hold its slot."""
        await self._start_slots.acquire()
        timer = asyncio.get_running_loop().call_later(self._bus.call_timeout, self._free_start_slot, tracker)

        def release() -> None:
            timer.cancel()
            self._start_slots.release()

        tracker.start_slot = release

    def _free_start_slot(self, tracker: Tracker) -> None:
        release = tracker.start_slot
        if release is not None:
            tracker.start_slot = None
            release()

    def _unpin(self, tracker: Tracker) -> None:
        """Count the unit as no longer pinned (its start failed: no reference was taken)."""
        if tracker.pinned:
            tracker.pinned = False
            self._pinned -= 1

    def _let_go(self, tracker: Tracker) -> None:
        """Drop our reference on the unit: systemd may unload it."""
        if tracker.pinned:
            self._unpin(tracker)
            self._bus.tell("UnrefUnit", "s", [tracker.unit])

    def _resolve(self, spec: RunSpec) -> str:
        """The checks only this host can make: the program and the user exist here."""
        program = spec.command()[0]
        field = "shell" if spec.shell is not None else "argv[0]"
        if "/" not in program:
            found = shutil.which(program)
            if found is None:
                raise SpecError(field, f"no program {program!r} in PATH; give an absolute path")
            program = found
        if not os.path.isabs(program):
            raise SpecError(field, f"{program!r} is relative; give an absolute path or a name in PATH")
        if not (os.path.isfile(program) and os.access(program, os.X_OK)):
            raise SpecError(field, f"{program} is not an executable file")
        if spec.split_output and not os.access(SYSTEMD_CAT, os.X_OK):
            raise SpecError("output.split", f"keeping stdout and stderr apart needs {SYSTEMD_CAT}, which this host "
                                            "does not have")
        if self.user_manager:
            me = pwd.getpwuid(os.getuid()).pw_name
            if spec.user not in (None, me, str(os.getuid())):
                raise SpecError("user", f"the user manager runs everything as {me}; "
                                        "run apsisd as root to switch users")
            if spec.group is not None:
                raise SpecError("group", "the user manager cannot switch groups; run apsisd as root")
            return program
        if spec.user is not None and not spec.user.isdigit():
            try:
                pwd.getpwnam(spec.user)
            except KeyError:
                raise SpecError("user", f"no user {spec.user!r} on this host") from None
        if spec.group is not None and not spec.group.isdigit():
            try:
                grp.getgrnam(spec.group)
            except KeyError:
                raise SpecError("group", f"no group {spec.group!r} on this host") from None
        return program

    def _uid_of(self, spec: RunSpec) -> int:
        """The uid the run's program runs as (checked to exist by _resolve)."""
        if self.user_manager or spec.user is None:
            return os.geteuid()
        return int(spec.user) if spec.user.isdigit() else pwd.getpwnam(spec.user).pw_uid

    # -- tracking -----------------------------------------------------------

    def _track(self, run_id: RunId) -> Tracker:
        tracker = Tracker(run_id)
        self._trackers[run_id] = tracker
        self._by_path[tracker.path] = tracker
        return tracker

    def _finish(self, tracker: Tracker, finished: Finished) -> None:
        tracker.emit(finished)
        asyncio.get_running_loop().call_later(self._keep_finished, self._untrack, tracker)

    def _untrack(self, tracker: Tracker) -> None:
        self._free_start_slot(tracker)
        self._let_go(tracker)
        if self._trackers.get(tracker.run_id) is tracker:
            del self._trackers[tracker.run_id]
            del self._by_path[tracker.path]

    def _on_signal(self, message: Message) -> None:
        if message.member == "Reloading" and message.body == [False]:
            self._check_armed()
        if message.member != "PropertiesChanged":
            return
        tracker = self._by_path.get(message.path or "")
        if tracker is None or tracker.finished is not None:
            return
        interface, changed, _invalidated = message.body
        tracker.props.update({k: v.value for k, v in changed.items() if k in outcome.PROPERTIES})
        if tracker.attaching:
            return
        if interface == UNIT_IFACE and "Job" in changed:
            self._check_stop_job(tracker)
        self._advance(tracker)

    def _check_stop_job(self, tracker: Tracker) -> None:
        """A stop job on a running unit means someone asked it to stop (apsis, or systemctl stop)."""
        job_id, job_path = tracker.props.get("Job") or (0, "/")
        if job_id == 0 or tracker.props.get("ActiveState") not in ("active", "deactivating"):
            return

        async def look() -> None:
            try:
                if await self._bus.get(job_path, JOB_IFACE, "JobType") == "stop":
                    tracker.stop_requested = True
            except HostError:
                # The job is done already: a stop that quick (an operator's systemctl stop of a run that dies on
                # SIGTERM) is in PID 1's journal records ("Stopping ...") if it was one.
                with contextlib.suppress(HostError):
                    stopped, _sent = outcome.requests_from_journal(*await self._journal_story(tracker))
                    tracker.stop_requested = tracker.stop_requested or stopped

        self._spawn(tracker, look(), f"job-type:{tracker.run_id}")

    def _spawn(self, tracker: Tracker, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        tracker.pending.add(task)
        task.add_done_callback(tracker.pending.discard)

    def _advance(self, tracker: Tracker) -> None:
        props = tracker.props
        if tracker.start_slot is not None and props.get("ActiveState") not in (None, "activating") \
                and not (props.get("Job") or (0, "/"))[0]:
            self._free_start_slot(tracker)  # the start job is done
        if not tracker.started and (
            outcome.has_started(props) or (outcome.has_ended(props) and props.get("ExecMainStartTimestamp"))
        ):
            started = outcome.started_from_properties(tracker.run_id, tracker.unit, props)
            self._note_writer(tracker, started)
            tracker.emit(started)
        if outcome.has_ended(props) and not tracker.harvesting:
            tracker.harvesting = True
            self._spawn(tracker, self._harvest(tracker), f"harvest:{tracker.run_id}")
        if tracker.arm is not None and not tracker.started and not tracker.rearming \
                and props.get("LoadState") in REFUSED_LOAD_STATES and not props.get("InvocationID"):
            tracker.rearming = True
            self._spawn(tracker, self._rearm(tracker, tracker.arm), f"rearm:{tracker.run_id}")

    def _check_armed(self) -> None:
        """systemd re-read its unit files: look again at each run armed and not yet started (_advance re-arms)."""
        for tracker in self._trackers.values():
            if tracker.arm is not None and not tracker.started and not tracker.rearming and not tracker.starting:
                self._spawn(tracker, self._check_load_state(tracker), f"load-state:{tracker.run_id}")

    async def _check_load_state(self, tracker: Tracker) -> None:
        """Note a refusal (bad-setting) for _advance; any other state is the signals' to tell (a unit not yet
        made reads not-found, which would stick)."""
        try:
            state = await self._bus.get(tracker.path, UNIT_IFACE, "LoadState")
        except HostError as exc:
            log.warning("run %s: reading its unit's state after a reload: %s", tracker.run_id, exc)
            return
        if state in REFUSED_LOAD_STATES:
            tracker.props["LoadState"] = state
            self._advance(tracker)

    async def _rearm(self, tracker: Tracker, start: list[Any]) -> None:
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
        try:
            for member, unit in (("StopUnit", timer), ("UnrefUnit", tracker.unit), ("ResetFailedUnit", timer),
                                 ("ResetFailedUnit", tracker.unit)):
                with contextlib.suppress(BusCallError):  # already so
                    await self._bus.call(member, "ss" if member == "StopUnit" else "s",
                                         [unit, "replace"] if member == "StopUnit" else [unit])
            self._unpin(tracker)
            async with asyncio.timeout(self._bus.call_timeout):
                while True:  # systemd unloads the old units on its next turn
                    try:
                        await self._bus.call("StartTransientUnit", "ssa(sv)a(sa(sv))", start)
                        break
                    except BusCallError as exc:
                        if exc.name != UNIT_EXISTS:
                            raise
                    await asyncio.sleep(SETTLE_POLL / 5)
            service = start[3][0][1] if start[3] else start[2]  # armed: the timer's auxiliary unit
            tracker.pinned = any(name == "AddRef" and value.value for name, value in service)
            self._pinned += tracker.pinned
            tracker.props.pop("LoadState", None)
        except (HostError, TimeoutError) as exc:
            log.error("run %s: arming it again failed: %s", tracker.run_id, exc, extra={"action": "run_rearm_failed"})
        finally:
            tracker.rearming = False

    def _note_writer(self, tracker: Tracker, started: Started) -> None:
        """Keep, and note in the journal, the process whose uid and pid mark a split run's output lines that
        journald read after it was gone (trust.py): once the unit is unloaded only the note tells them."""
        if tracker.split_uid is None or tracker.writer is not None or not started.main_pid or not started.start_time:
            return
        tracker.writer = trust.Writer(pid=started.main_pid, uid=tracker.split_uid, start=started.start_time)
        journal.send(self._note(tracker, "started", f"apsis: {tracker.unit} started, pid {started.main_pid}",
                                **trust.writer_note(tracker.writer, started.invocation_id)))

    async def _harvest(self, tracker: Tracker) -> None:
        """Wait for journald to read the run's output, read what signals do not carry (CPU, memory), tell
        Finished, then let the unit go."""
        output_lost = None
        try:
            others = [t for t in tracker.pending if t is not asyncio.current_task()]
            if others:
                await asyncio.wait(others, timeout=self._bus.call_timeout)
            output_lost = await self._drain(tracker)
            if not tracker.pinned:
                return  # the unit may be gone already: what it would say of a missing unit is not the truth
            tracker.props["CPUUsageNSec"] = await self._bus.get(tracker.path, SERVICE_IFACE, "CPUUsageNSec")
            if self._has_memory_peak is not False:
                try:
                    tracker.props["MemoryPeak"] = await self._bus.get(tracker.path, SERVICE_IFACE, "MemoryPeak")
                    self._has_memory_peak = True
                except BusCallError:
                    self._has_memory_peak = False  # systemd < 255 does not keep it
        except HostError as exc:
            log.warning("run %s: could not read accounting: %s", tracker.run_id, exc)
        finally:
            finished = outcome.finished_from_properties(
                tracker.run_id, tracker.unit, tracker.props,
                stop_requested=tracker.stop_requested, signals_sent=tuple(tracker.signals_sent),
            )
            if output_lost is not None:
                finished = dataclasses.replace(finished, output_lost=output_lost)
            self._finish(tracker, finished)
            log.info("run %s finished: %s", tracker.run_id, finished.result, extra={"action": "run_finished"})
        self._release(tracker)

    async def _drain(self, tracker: Tracker) -> str | None:
        """What may be missing of the run's output: its unit waits (drain-streams) until journald has read it
        all, lest its tail fall under journald's default rate limit once the unit is gone (streams.py); a unit
        that ended before may have lost lines. Its end is told once journald has stored what it will."""
        if not self._streams.readable():
            return None  # not root: journald's streams cannot be seen (see docs/operations.md)
        keys = stream_keys(tracker.unit, run_identifier(tracker.run_id))
        if not self._streams.any_open(keys, now=True):
            return None
        lost = ("its unit ended before journald had read all of it (the wait is bounded by the stop grace period); "
                "lines past journald's default rate limit may be missing")
        log.warning("run %s: output may be incomplete: %s", tracker.run_id, lost, extra={"action": "output_lost"})
        if not await wait_closed(self._streams, keys, DRAIN_WITHIN):
            log.warning("run %s: journald had not read all of its output %g s after its end; telling the end "
                        "anyway", tracker.run_id, DRAIN_WITHIN, extra={"action": "output_late"})
        return lost

    def _release(self, tracker: Tracker) -> None:
        """Let systemd unload the unit (and forget a failure) now that its outcome is read."""
        self._let_go(tracker)
        if tracker.props.get("ActiveState") == "failed":
            self._bus.tell("ResetFailedUnit", "s", [tracker.unit])

    async def _attach(self, tracker: Tracker) -> None:
        """Follow a unit we did not start (or lost sight of), or read its end from the journal.

        Signals arriving meanwhile are merged but not acted on until the
        snapshot and the journal's requests are in: an outcome told early
        would lack them.
        """
        tracker.attaching = True
        try:
            while (snapshot := await self._look(tracker)) is None:
                if await self._recover(tracker):
                    return
            tracker.props.update(snapshot)  # signals from now on are newer, and merge over it
            # Whoever asked for a stop or sent a signal before we looked (a
            # previous apsis, an operator) said so in the journal.
            records, notes = await self._journal_story(tracker)
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
            self._check_stop_job(tracker)
            self._advance(tracker)

    async def _look(self, tracker: Tracker) -> dict[str, Any] | None:
        """The unit's properties, pinned; None when systemd has no such unit (or only an earlier run's).

        A unit systemd re-read and could not parse (bad-setting) cannot be
        pinned; it is followed unpinned (its end is in its signals)."""
        try:
            if not tracker.pinned:
                await self._bus.call("RefUnit", "s", [tracker.unit])
                tracker.pinned = True
                self._pinned += 1
        except BusCallError as exc:
            if exc.name == NO_SUCH_UNIT:
                return None
            if exc.name != BAD_UNIT_SETTING:
                raise
        snapshot: dict[str, Any] = {}
        for interface in (UNIT_IFACE, SERVICE_IFACE):
            snapshot.update(await self._bus.get_all(tracker.path, interface))
        if not outcome.exists(snapshot) or self._let_go_if_stale(tracker, snapshot):
            return None
        return snapshot

    async def _listed(self, unit: str) -> bool:
        """Whether systemd has the unit, asked by name (its object path answers for any name, real or not)."""
        (rows,) = await self._bus.call("ListUnitsByNames", "as", [[unit]])
        return any(outcome.exists({"LoadState": load, "ActiveState": active})
                   for _name, _description, load, active, *_rest in rows)

    def _let_go_if_stale(self, tracker: Tracker, snapshot: dict[str, Any]) -> bool:
        """A unit that ended before this run was committed to start (`since`) is an earlier run's of the same
        name, left loaded (a failed unit nobody reset): let go of it, so the run can be told apart and started."""
        if tracker.since is None or snapshot.get("ActiveState") not in ("failed", "inactive"):
            return False
        if (snapshot.get("StateChangeTimestamp") or 0) >= tracker.since.timestamp() * 1_000_000:
            return False
        log.warning("run %s: unit %s ended before this run was started; it is an earlier run's, reset",
                    tracker.run_id, tracker.unit, extra={"action": "unit_stale"})
        self._let_go(tracker)
        self._bus.tell("ResetFailedUnit", "s", [tracker.unit])  # the bus keeps order: a start after it is fresh
        return True

    async def _journal_story(self, tracker: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """PID 1's records of the unit, and apsis's notes about the run, all synced first."""
        await journal.sync()
        records = [r async for r in journal.read(trust.manager_records(tracker.unit, user_manager=self.user_manager),
                                                 user=self.user_manager, since=tracker.since)]
        notes = [r async for r in journal.read(trust.own_notes(tracker.run_id), user=self.user_manager,
                                               since=tracker.since)]
        return records, notes

    async def _recover(self, tracker: Tracker) -> bool:
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
            records, notes = await self._journal_story(tracker)
            started, finished = outcome.finished_from_journal(tracker.run_id, tracker.unit, records, notes)
            if tracker.finished is not None:
                return True
            if await self._listed(tracker.unit):
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
        self._finish(tracker, finished)
        log.info("run %s: outcome recovered from the journal: %s", tracker.run_id, finished.result,
                 extra={"action": "run_recovered"})
        return True

    async def _tracker_for(self, run_id: RunId, since: datetime | None = None) -> Tracker:
        """The run's tracker, attaching to its unit (or its journal) the first time we are asked."""
        tracker = self._trackers.get(run_id)
        if tracker is None:
            tracker = self._track(run_id)
            tracker.since = since
            tracker.attached = asyncio.create_task(self._attach(tracker), name=f"attach:{run_id}")
        if tracker.attached is not None:
            try:
                await asyncio.shield(tracker.attached)
            except BaseException:
                self._untrack(tracker)
                raise
        return tracker

    async def _resync(self) -> None:
        """After a reconnect: every run not yet ended is looked at again (signals were missed)."""
        # A run whose start call is on its way is not looked at: it has no unit yet, or the call finds it.
        unfinished = [t for t in self._trackers.values() if t.finished is None and not t.harvesting and not t.starting]
        log.info("re-checking %d runs after reconnect", len(unfinished), extra={"action": "runs_resync"})
        results = await asyncio.gather(*(self._attach(t) for t in unfinished), return_exceptions=True)
        for tracker, result in zip(unfinished, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("run %s: re-checking after reconnect: %s", tracker.run_id, result)

    # -- the rest of the Host protocol --------------------------------------

    async def events(self, run_id: RunId, *, since: datetime | None = None) -> AsyncIterator[HostEvent]:
        tracker = await self._tracker_for(run_id, since)
        async for event in tracker.stream():
            if isinstance(event, Finished):
                self._untrack(tracker)
            yield event

    async def stop(self, run_id: RunId) -> None:
        tracker = await self._tracker_for(run_id)
        if tracker.ended:
            return
        tracker.stop_requested = True
        journal.send(self._note(tracker, "stop", f"apsis: stopping {tracker.unit}"))
        try:
            self._bus.tell("StopUnit", "ss", [timer_name(run_id), "replace"])  # an armed run not yet started
            await self._bus.call("StopUnit", "ss", [tracker.unit, "replace"])
        except BusCallError as exc:
            if exc.name != NO_SUCH_UNIT:
                raise HostError(f"run {run_id}: systemd did not stop {tracker.unit}: {exc.text}") from exc
        log.info("run %s: stop requested", run_id, extra={"action": "run_stop"})

    async def kill(self, run_id: RunId, signal: str | int) -> None:
        signum = parse_signal(signal)
        name = signum.name.removeprefix("SIG")
        tracker = await self._tracker_for(run_id)
        if tracker.ended:
            raise HostError(f"run {run_id} has ended; there is nothing to send {name} to")
        tracker.signals_sent.append(name)
        journal.send(self._note(tracker, "kill", f"apsis: sending SIG{name} to {tracker.unit}", APSIS_SIGNAL=name))
        try:
            await self._bus.call("KillUnit", "ssi", [tracker.unit, "all", int(signum)])
        except BusCallError as exc:
            raise HostError(f"run {run_id}: systemd did not signal {tracker.unit}: {exc.text}") from exc
        log.info("run %s: sent SIG%s", run_id, name, extra={"action": "run_kill"})

    def _note(self, tracker: Tracker, action: str, message: str, **fields: str) -> dict[str, str]:
        return {"MESSAGE": message, "PRIORITY": "5", "SYSLOG_IDENTIFIER": "apsisd",
                "APSIS_RUN_ID": tracker.run_id, "APSIS_ACTION": action, "UNIT": tracker.unit, **fields}

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
            tracker = await self._tracker_for(run_id)
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
        tracker = await self._tracker_for(run_id)
        async for _event in tracker.stream():
            pass

    def drop_bus(self) -> None:
        """Lose the D-Bus connection as a crashed bus would; the host reconnects by itself."""
        self._bus.drop()
