"""The Host protocol: the one seam through which the scheduler runs programs.

A host is "something that can run a program as a systemd unit and tell us
what happened". The local host does it in-process over D-Bus; a remote host
will do it through agentd over SSH. The scheduler sees only this.
"""
from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from agentd.spec import RunSpec, Stream
from agentd.types import RunId


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """The run's main process is running (or ran: a run that ended at once still has one)."""

    run_id: RunId
    unit: str
    invocation_id: str
    main_pid: int | None
    start_time: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    """How the run ended; exactly one per run in any stream of its events.

    `result` is systemd's (success, exit-code, signal, timeout, oom-kill,
    core-dump, ...), or "unknown" when neither systemd nor the journal kept it.
    `stop_requested` is true when the run was stopped on request (apsis's
    stop(), or an operator's `systemctl stop`): systemd then reports a run
    that died of its stop signal as a success, and so must never we.
    `signals_sent` are the signals apsis sent through kill().
    `output_lost` says why the run's output in the journal may lack lines
    (None: all of it is there, as far as the host can tell).
    """

    run_id: RunId
    unit: str
    invocation_id: str | None
    result: str
    exit_code: int | None
    signal: str | None
    start_time: datetime | None
    end_time: datetime | None
    cpu_time_ns: int | None
    memory_peak: int | None
    stop_requested: bool
    signals_sent: tuple[str, ...] = ()
    recovered: bool = False
    output_lost: str | None = None

    @property
    def succeeded(self) -> bool:
        """The run did what it should: systemd says success, and nobody stopped or killed it."""
        return (
            self.result == "success"
            and self.signal is None
            and not self.stop_requested
            and not self.signals_sent
        )


HostEvent = Started | Finished


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitState:
    """An apsis unit as it exists on the host now."""

    run_id: RunId
    unit: str
    active_state: str
    sub_state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StartResult:
    """What start() did: `adopted` when the unit already existed and is now followed."""

    run_id: RunId
    unit: str
    adopted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputRecord:
    """One record of a run's output: `data` is the bytes as written, line ending included."""

    cursor: str
    time: datetime
    data: bytes
    priority: int | None
    pid: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStatus:
    """How a host reached over a link is doing: up or not since when (and why not), and who is at the other end
    (agentd's version and the machine's name as of its last hello; how far its clock is ahead of ours, in seconds,
    measured when it was linked)."""

    reachable: bool
    tried: bool  # a link was tried yet: a host being linked for the first time is not known to be unreachable
    since: datetime
    problem: str
    agentd: str | None
    hostname: str | None
    clock_skew: float | None


@runtime_checkable
class Linked(Protocol):
    """A host apsisd reaches over a link that can be lost (RemoteHost); the local host is not one."""

    def link_status(self) -> LinkStatus:
        ...


class Host(Protocol):
    """Contract every host implementation honours (tests/contract runs it against each).

    Errors: SpecError for a bad spec (nothing started), RunNotFound for a run
    the host has no trace of, HostError when the host cannot act.
    """

    async def start(self, spec: RunSpec, *, at: datetime | None = None) -> StartResult:
        """Start the run as a unit, or adopt the unit if it already exists; never start twice.

        `at`: start it at that instant, not now (the host may arm it ahead, so that the program starts on
        the instant rather than when the call is done).
        """
        ...

    def events(self, run_id: RunId, *, since: datetime | None = None) -> AsyncIterator[HostEvent]:
        """The run's Started (if it started) then exactly one Finished, however late we ask.

        `since`: when this run was about to be started. What the host kept
        from before (a unit of the same name from a database since restored
        or recreated, whose run numbers start again) is not this run's.
        """
        ...

    async def stop(self, run_id: RunId) -> None:
        """Stop signal, grace period, then SIGKILL to the whole cgroup; recorded as requested."""
        ...

    async def kill(self, run_id: RunId, signal: str | int) -> None:
        """Send a signal to every process of the run."""
        ...

    async def list(self) -> list[UnitState]:
        """The apsis units that exist now, to reattach to after a restart."""
        ...

    async def output_gaps(self, run_id: RunId, started: datetime) -> tuple[str, ...]:
        """Why the run's output, as kept, lacks lines, in words: what was rotated away since the run `started`,
        what journald suppressed of it. Empty when nothing is known to be missing."""
        ...

    def output(
        self, run_id: RunId, *, follow: bool = False, after_cursor: str | None = None, stream: Stream | None = None
    ) -> AsyncGenerator[OutputRecord, None]:
        """The run's output; with follow, until the run has ended and all of it is read. Close it (aclose) to stop
        early: its journal reader goes with it. Only lines the host can tie to the run's own processes, never
        what another writer claims to be (docs/host.md, "What the journal is believed on").

        `stream`: only that stream's records, for a run whose spec has `split_output` (otherwise the records of
        either are not told apart, and asking for one is the caller's mistake).
        """
        ...
