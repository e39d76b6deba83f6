"""FakeHost: the Host protocol in memory, whose programs do what the test says.

It honours the contract tests/contract/test_host.py proves of every host (that
suite runs it beside LocalHost): a bad spec is refused (SpecError) before
anything starts; a unit that exists is adopted, never started twice; each run
tells at most one Started, then exactly one Finished, however late events()
is asked; a run the host has no trace of is RunNotFound; stop() and kill()
are on the record (`stop_requested`, `signals_sent`) and never a success;
output records carry cursors, resume after one, and a follower ends once the
run has ended and all of it is read; `at=` starts a run no earlier than `at`.

The test plays the programs: `finish()` ends one (exit code, signal or a
result of systemd's), `write()` prints for it, `forget()` takes the unit and
every record of it away (a journal rotated, a host re-made), `on_start` is
called as each program starts (to print or end at once, as a program would).

Time is real (`datetime.now`) unless `now` is given: then it is the test's,
and an armed run (`at=` ahead) starts when the test, having moved its clock,
calls `start_due()`; with real time it starts on its own, on a timer.

Left out, on purpose: the grace period (a program dies of its stop signal at
once, and of any signal sent whose default action ends a process); the host's
own checks of a spec (programs and users exist: every spec the pure checks
pass runs); CPU time and peak memory (None); `recovered` (the fake never
loses sight of a run: always False, but for a forgotten run's unknown end);
journald's limits (empty lines are kept, nothing is rate-limited, so
output_gaps is always empty); a failed unit left loaded after its end.
"""
from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agentd.errors import HostError, RunNotFound
from agentd.host import Finished, HostEvent, OutputRecord, Started, StartResult, UnitState
from agentd.spec import RunSpec, Stream, check, parse_signal
from agentd.systemd.units import STREAM_PRIORITY, unit_name
from agentd.types import RunId

# systemd counts a main process killed by one of these as a clean exit (result "success"); Finished.succeeded
# still says no, as stop_requested or signals_sent tells why.
CLEAN_SIGNALS = frozenset({"HUP", "INT", "TERM", "PIPE"})
# Signals whose default action does not end a process: a program sent one keeps running.
HARMLESS_SIGNALS = frozenset({"CHLD", "CONT", "URG", "WINCH", "STOP", "TSTP", "TTIN", "TTOU"})
CURSOR = re.compile(r"fake:(\d+)\Z")
LINES = re.compile(rb"[^\n]*\n|[^\n]+\Z")  # journald stores a stream line by line; a last line may lack its \n


@dataclass(eq=False)
class FakeRun:
    """One run's unit and all the host keeps of it: its events, its output, who asked what of it."""

    spec: RunSpec
    at: datetime | None
    invocation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    events: list[HostEvent] = field(default_factory=list)
    output: list[tuple[int, OutputRecord]] = field(default_factory=list)  # (sequence number, record)
    stop_requested: bool = False
    signals_sent: list[str] = field(default_factory=list)
    told: bool = False  # events() has told its Finished: its unit is let go, and a start makes it anew
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def started(self) -> Started | None:
        return next((e for e in self.events if isinstance(e, Started)), None)

    @property
    def finished(self) -> Finished | None:
        return next((e for e in self.events if isinstance(e, Finished)), None)

    def tell(self, event: HostEvent) -> None:
        self.events.append(event)
        self.wake()

    def wake(self) -> None:
        """Wake whoever waits on this run; later waiters wait on a fresh event."""
        self.changed.set()
        self.changed = asyncio.Event()


class FakeHost:
    """The Host protocol in memory (module docstring): programs are the test's, played through its methods."""

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._arms_itself = now is None  # real time: armed runs start on a timer of the loop's
        self.runs: dict[RunId, FakeRun] = {}
        self.on_start: Callable[[RunId], None] | None = None
        self._pids = itertools.count(1000)
        self._sequence = itertools.count(1)

    # -- the Host protocol ---------------------------------------------------

    async def start(self, spec: RunSpec, *, at: datetime | None = None) -> StartResult:
        check(spec)
        unit = unit_name(spec.run_id)
        existing = self.runs.get(spec.run_id)
        if existing is not None and not existing.told:
            return StartResult(run_id=spec.run_id, unit=unit, adopted=True)
        run = FakeRun(spec=spec, at=at)
        self.runs[spec.run_id] = run
        if at is None or at <= self._now():
            self._begin(run)
        elif self._arms_itself:
            self._arm(run)
        return StartResult(run_id=spec.run_id, unit=unit, adopted=False)

    async def events(self, run_id: RunId, *, since: datetime | None = None) -> AsyncIterator[HostEvent]:
        run = self.runs.get(run_id)
        end = run.finished if run is not None else None
        if end is not None and since is not None and end.end_time is not None and end.end_time < since:
            del self.runs[run_id]  # an earlier run's of the same name: not this one's, and let go
            run = None
        if run is None:
            raise RunNotFound(run_id)
        told = 0
        while True:
            changed = run.changed
            for event in run.events[told:]:
                told += 1
                if isinstance(event, Finished):
                    run.told = True
                    yield event
                    return
                yield event
            await changed.wait()

    async def stop(self, run_id: RunId) -> None:
        run = self._known(run_id)
        if run.finished is not None:
            return
        run.stop_requested = True
        if run.started is None:  # armed, not started yet: it never will
            self._end(run, result="success")
        else:
            self._die(run, parse_signal(run.spec.stop_signal).name.removeprefix("SIG"))

    async def kill(self, run_id: RunId, signal: str | int) -> None:
        name = parse_signal(signal).name.removeprefix("SIG")
        run = self._known(run_id)
        if run.finished is not None:
            raise HostError(f"run {run_id} has ended; there is nothing to send {name} to")
        if run.started is None:
            raise HostError(f"run {run_id} has not started; there is no process to send {name} to")
        run.signals_sent.append(name)
        if name not in HARMLESS_SIGNALS:
            self._die(run, name)

    async def list(self) -> list[UnitState]:
        return [
            UnitState(run_id=run_id, unit=unit_name(run_id), active_state="active" if run.started else "inactive",
                      sub_state="running" if run.started else "dead")
            for run_id, run in self.runs.items() if run.finished is None
        ]

    async def output_gaps(self, run_id: RunId, started: datetime) -> tuple[str, ...]:
        return ()

    async def output(
        self, run_id: RunId, *, follow: bool = False, after_cursor: str | None = None, stream: Stream | None = None
    ) -> AsyncGenerator[OutputRecord, None]:
        after = _position(after_cursor)
        run = self.runs.get(run_id)
        if run is None:
            return
        priority = STREAM_PRIORITY[stream] if stream is not None else None
        while True:
            changed = run.changed
            ended = run.finished is not None
            for number, record in list(run.output):
                if number > after and priority in (None, record.priority):
                    after = number
                    yield record
            if not follow or ended:
                return
            await changed.wait()

    # -- what the test's programs do ----------------------------------------------

    def finish(self, run_id: RunId, *, exit_code: int | None = 0, signal: str | None = None,
               result: str | None = None) -> None:
        """The program ends: with `exit_code`, or killed by `signal` (then no exit code); `result` is systemd's
        word for it when it is neither plain (timeout, oom-kill, core-dump). A program not started yet never
        started (its Finished comes without a Started)."""
        run = self._running(run_id, "end")
        if signal is not None:
            self._die(run, parse_signal(signal).name.removeprefix("SIG"), result=result)
            return
        self._end(run, result=result or ("success" if exit_code == 0 else "exit-code"), exit_code=exit_code)

    def write(self, run_id: RunId, data: bytes, *, stream: Stream = Stream.STDOUT) -> None:
        """The program writes `data` to `stream`: a record per line (a last line without its \\n is one too).
        Both streams are one, at priority 6, unless the spec has split_output."""
        run = self._running(run_id, "write")
        if run.started is None:
            raise ValueError(f"run {run_id} has not started: it cannot write")
        priority = STREAM_PRIORITY[stream] if run.spec.split_output else STREAM_PRIORITY[Stream.STDOUT]
        for line in LINES.findall(data):
            number = next(self._sequence)
            run.output.append((number, OutputRecord(cursor=f"fake:{number}", time=self._now(), data=line,
                                                    priority=priority, pid=run.started.main_pid)))
        run.wake()

    def forget(self, run_id: RunId) -> None:
        """The unit and every record of it are gone. A run not ended ends, for whoever follows it now, as one
        whose end nobody kept (result "unknown"); asked later, the host knows nothing of it (RunNotFound)."""
        run = self.runs.get(run_id)
        if run is None:
            raise ValueError(f"run {run_id} is not on this host")
        if run.finished is None:
            self._end(run, result="unknown", lost=True)
        del self.runs[run_id]

    def start_due(self) -> None:
        """Start every armed run whose instant has come (with the test's own clock, after moving it)."""
        for run in list(self.runs.values()):
            self._begin_if_due(run)

    # -- inside ---------------------------------------------------------------------

    def _known(self, run_id: RunId) -> FakeRun:
        run = self.runs.get(run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    def _running(self, run_id: RunId, what: str) -> FakeRun:
        """The run, for the test to play its program: a mistake (ValueError) when there is no program to play."""
        run = self.runs.get(run_id)
        if run is None or run.finished is not None:
            raise ValueError(f"run {run_id} is not on this host or has ended: its program cannot {what}")
        return run

    def _arm(self, run: FakeRun) -> None:
        assert run.at is not None
        delay = (run.at - self._now()).total_seconds()
        asyncio.get_running_loop().call_later(max(delay, 0.0), self._begin_if_due, run)

    def _begin_if_due(self, run: FakeRun) -> None:
        if self.runs.get(run.spec.run_id) is not run or run.started is not None or run.finished is not None:
            return
        if run.at is not None and run.at > self._now():
            if self._arms_itself:
                self._arm(run)  # the loop's timer fired early by the wall clock: wait out the rest
            return
        self._begin(run)

    def _begin(self, run: FakeRun) -> None:
        run_id = run.spec.run_id
        run.tell(Started(run_id=run_id, unit=unit_name(run_id), invocation_id=run.invocation_id,
                         main_pid=next(self._pids), start_time=self._now()))
        if self.on_start is not None:
            self.on_start(run_id)

    def _die(self, run: FakeRun, name: str, *, result: str | None = None) -> None:
        """The program is killed by signal `name`: systemd calls a clean signal's death a success."""
        self._end(run, result=result or ("success" if name in CLEAN_SIGNALS else "signal"), signal=name)

    def _end(self, run: FakeRun, *, result: str, exit_code: int | None = None, signal: str | None = None,
             lost: bool = False) -> None:
        """Tell the run's Finished; `lost`: as a host tells a unit gone with no record of its end."""
        started = run.started
        run.tell(Finished(
            run_id=run.spec.run_id, unit=unit_name(run.spec.run_id),
            invocation_id=started.invocation_id if started else None, result=result, exit_code=exit_code,
            signal=signal, start_time=started.start_time if started else None,
            end_time=None if lost else self._now(), cpu_time_ns=None, memory_peak=None,
            stop_requested=run.stop_requested, signals_sent=tuple(run.signals_sent), recovered=lost,
        ))


def _position(cursor: str | None) -> int:
    """The sequence number a cursor of this host's names (0: before everything); HostError for any other."""
    if cursor is None:
        return 0
    match = CURSOR.match(cursor)
    if match is None:
        raise HostError(f"{cursor!r} is not a cursor of this host's output")
    return int(match.group(1))
