"""A unit's story told as events: from its live D-Bus properties, or after the fact from the journal.

Live, the properties carry it all. After the fact (the unit ended while no
apsis was connected, and a successful transient unit is unloaded at once, its
object then reporting a clean success for any name) only the journal keeps
it: PID 1's records about the unit, keyed by UNIT= and INVOCATION_ID, and
the notes apsis itself wrote when it stopped or signalled the run; only
records that journald says PID 1 or apsisd wrote (trust.py), since anyone
may write a record with these fields.
"""
from __future__ import annotations

import signal as signals
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from agentd.host import Finished, Started
from agentd.systemd.journal import entry_time
from agentd.types import RunId

# si_code of the main process's end (ExecMainCode), and the journal's names for it.
CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3
EXIT_CODES = {"exited": CLD_EXITED, "killed": CLD_KILLED, "dumped": CLD_DUMPED}
ENDED_STATES = ("inactive", "failed")

# PID 1's MESSAGE_IDs (systemd.catalog) that tell a unit's fate.
MSG_STARTED = "39f53479d3a045ac8e11786248231fbf"
MSG_STOPPING = "de5b426a63be47a7b6ac3eaac82e2f6f"
MSG_SUCCEEDED = "7ad2d189f7e94e70a38c781354912448"
MSG_FAILED = "d9b373ed55a64feb8242e02dbe79a49c"
MSG_PROCESS_EXITED = "98e322203f7a4ed290d09fe03c09fe15"
MSG_RESOURCES = "ae8f7b866b0347b9af31fe1c80b127c0"


def signal_name(number: int) -> str:
    try:
        return signals.Signals(number).name.removeprefix("SIG")
    except ValueError:
        return str(number)


def usec_time(value: int | None) -> datetime | None:
    """A systemd µs timestamp; 0 (never) is None."""
    if not value:
        return None
    return datetime.fromtimestamp(value / 1e6, tz=UTC)


def invocation_hex(value: Any) -> str | None:
    if not value:
        return None
    return bytes(value).hex()


def _exit(code: int | None, status: int | None) -> tuple[int | None, str | None]:
    """(exit code, signal name) from si_code and status."""
    if code == CLD_EXITED:
        return status, None
    if code in (CLD_KILLED, CLD_DUMPED) and status is not None:
        return None, signal_name(status)
    return None, None


# The unit properties the functions below read: a host keeps these of each
# PropertiesChanged signal and drops the rest (a signal carries dozens).
PROPERTIES = frozenset({
    "ActiveState", "LoadState", "Job", "InvocationID", "Result", "MainPID", "ExecMainPID", "ExecMainCode",
    "ExecMainStatus", "ExecMainStartTimestamp", "ExecMainExitTimestamp", "InactiveExitTimestamp",
    "InactiveEnterTimestamp", "CPUUsageNSec", "MemoryPeak",
})


# A unit systemd holds in memory, whatever became of its file: after a daemon-reload or daemon-reexec, a unit
# whose file systemd 252 cannot read back (the ExecStartEx= it wrote itself) is "bad-setting", yet its process
# runs on and it ends as any other. Only these load states say there is no such unit.
GONE_LOAD_STATES = ("not-found", "stub")


def exists(props: Mapping[str, Any]) -> bool:
    """systemd has the unit: loaded (or loaded from a file it could not read back), or still doing something."""
    return props.get("LoadState") not in (None, *GONE_LOAD_STATES) or props.get("ActiveState") not in (None, "inactive")


def has_started(props: Mapping[str, Any]) -> bool:
    return bool(props.get("InvocationID")) and props.get("ActiveState") in ("active", "reloading", "deactivating")


def has_ended(props: Mapping[str, Any]) -> bool:
    """Ended, and systemd is done with it: no job left (a stop job outlives the state change)."""
    job = props.get("Job") or (0, "/")
    return (
        bool(props.get("InvocationID"))
        and props.get("ActiveState") in ENDED_STATES
        and job[0] == 0
        and props.get("LoadState", "loaded") not in GONE_LOAD_STATES
    )


def started_from_properties(run_id: RunId, unit: str, props: Mapping[str, Any]) -> Started:
    return Started(
        run_id=run_id,
        unit=unit,
        invocation_id=invocation_hex(props.get("InvocationID")) or "",
        main_pid=props.get("ExecMainPID") or props.get("MainPID") or None,
        start_time=usec_time(props.get("ExecMainStartTimestamp") or props.get("InactiveExitTimestamp")),
    )


def finished_from_properties(
    run_id: RunId,
    unit: str,
    props: Mapping[str, Any],
    *,
    stop_requested: bool,
    signals_sent: tuple[str, ...],
) -> Finished:
    exit_code, signal = _exit(props.get("ExecMainCode"), props.get("ExecMainStatus"))
    cpu = props.get("CPUUsageNSec")
    memory = props.get("MemoryPeak")
    return Finished(
        run_id=run_id,
        unit=unit,
        invocation_id=invocation_hex(props.get("InvocationID")),
        result=props.get("Result") or "unknown",
        exit_code=exit_code,
        signal=signal,
        start_time=usec_time(props.get("ExecMainStartTimestamp") or props.get("InactiveExitTimestamp")),
        end_time=usec_time(props.get("ExecMainExitTimestamp") or props.get("InactiveEnterTimestamp")),
        cpu_time_ns=cpu if cpu is not None and cpu < 2**64 - 1 else None,
        memory_peak=memory if memory is not None and memory < 2**64 - 1 else None,
        stop_requested=stop_requested,
        signals_sent=signals_sent,
    )


def last_invocation(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The records of the unit's last activation (a unit name may in principle be reused)."""
    records = list(records)
    starts = [i for i, r in enumerate(records) if r.get("MESSAGE_ID") == MSG_STARTED]
    if not starts:
        return records
    invocation = records[starts[-1]].get("INVOCATION_ID")
    return [r for r in records if r.get("INVOCATION_ID") in (None, invocation)]


def requests_from_journal(
    records: Iterable[Mapping[str, Any]], notes: Iterable[Mapping[str, Any]]
) -> tuple[bool, tuple[str, ...]]:
    """(stop requested, signals sent) for the unit's last activation: PID 1's stop job, apsis's notes."""
    notes = list(notes)
    stopped = any(r.get("MESSAGE_ID") == MSG_STOPPING for r in last_invocation(records))
    stopped = stopped or any(n.get("APSIS_ACTION") == "stop" for n in notes)
    sent = tuple(n["APSIS_SIGNAL"] for n in notes if n.get("APSIS_ACTION") == "kill" and n.get("APSIS_SIGNAL"))
    return stopped, sent


def finished_from_journal(
    run_id: RunId, unit: str, records: Iterable[Mapping[str, Any]], notes: Iterable[Mapping[str, Any]]
) -> tuple[Started | None, Finished | None]:
    """What PID 1 and apsis wrote about the unit, as events; (None, None) if nothing was.

    A unit that started and left no record of its end gives (Started, None):
    only the caller knows whether the unit is gone (then unknown_end()).
    """
    started: Started | None = None
    invocation = None
    start_time = end_time = None
    result = None
    exit_code = signal = None
    cpu = None
    exited = False
    records = list(records)
    stop_requested, sent = requests_from_journal(records, notes)
    for record in last_invocation(records):
        message_id = record.get("MESSAGE_ID")
        invocation = record.get("INVOCATION_ID") or invocation
        if message_id == MSG_STARTED:
            start_time = entry_time(record)
            started = Started(run_id=run_id, unit=unit, invocation_id=invocation or "",
                              main_pid=None, start_time=start_time)
        elif message_id == MSG_PROCESS_EXITED:
            exited = True
            status = record.get("EXIT_STATUS")
            code = EXIT_CODES.get(record.get("EXIT_CODE", ""))
            number = int(status) if status and str(status).isdigit() else None
            exit_code, signal = _exit(code, number)
            if signal is None and code in (CLD_KILLED, CLD_DUMPED) and status:
                signal = str(status).removeprefix("SIG")
        elif message_id == MSG_SUCCEEDED:
            result, end_time = "success", entry_time(record)
        elif message_id == MSG_FAILED:
            result, end_time = record.get("UNIT_RESULT") or "unknown", entry_time(record)
        elif message_id == MSG_RESOURCES and record.get("CPU_USAGE_NSEC", "").isdigit():
            cpu = int(record["CPU_USAGE_NSEC"])
    if started is None and exited:
        # A program that ends as it starts may leave no "Started" record (PID 1 logs its failure instead), but
        # its main process ran: it started, when is not said.
        started = Started(run_id=run_id, unit=unit, invocation_id=invocation or "", main_pid=None, start_time=None)
    if result is None:
        return started, None
    if result == "success" and exit_code is None and signal is None and not (stop_requested or sent):
        exit_code = 0  # PID 1 logs a clean exit's status only at debug level
    finished = Finished(
        run_id=run_id, unit=unit, invocation_id=invocation, result=result, exit_code=exit_code,
        signal=signal, start_time=start_time, end_time=end_time, cpu_time_ns=cpu, memory_peak=None,
        stop_requested=stop_requested, signals_sent=sent, recovered=True,
    )
    return started, finished


def unknown_end(
    run_id: RunId, unit: str, started: Started | None, *, stop_requested: bool, signals_sent: tuple[str, ...]
) -> Finished:
    """The end of a unit that is gone without a record of how it ended: said as unknown, never guessed."""
    return Finished(
        run_id=run_id, unit=unit, invocation_id=started.invocation_id if started else None, result="unknown",
        exit_code=None, signal=None, start_time=started.start_time if started else None, end_time=None,
        cpu_time_ns=None, memory_peak=None, stop_requested=stop_requested, signals_sent=signals_sent,
        recovered=True,
    )
