"""A unit's end told from journal records and from D-Bus properties: pure."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentd.host import Finished, Started
from agentd.systemd import outcome
from agentd.systemd.outcome import (
    finished_from_journal,
    finished_from_properties,
    has_ended,
    has_started,
    last_invocation,
    signal_name,
    unknown_end,
    usec_time,
)

UNIT = "apsis-r1.service"
INV = "0123456789abcdef0123456789abcdef"
INV2 = "fedcba9876543210fedcba9876543210"
T0 = 1_700_000_000_000_000  # µs


def rec(message_id: str, t: int, invocation: str | None = INV, **fields: str) -> dict[str, str]:
    """A journal record as `journalctl --output=json` gives it: every value a string."""
    record = {"MESSAGE_ID": message_id, "__REALTIME_TIMESTAMP": str(t), "UNIT": UNIT, "_PID": "1", **fields}
    if invocation is not None:
        record["INVOCATION_ID"] = invocation
    return record


def start(t: int = T0, invocation: str = INV) -> dict[str, str]:
    return rec("39f53479d3a045ac8e11786248231fbf", t, invocation, JOB_TYPE="start", JOB_RESULT="done",
               MESSAGE="Started apsis run r1.")


def success(t: int = T0 + 2_000_000, invocation: str = INV) -> dict[str, str]:
    message = f"{UNIT}: Deactivated successfully."
    return rec("7ad2d189f7e94e70a38c781354912448", t, invocation, MESSAGE=message)


def exited(code: str, status: str, t: int = T0 + 1_000_000, invocation: str = INV) -> dict[str, str]:
    return rec("98e322203f7a4ed290d09fe03c09fe15", t, invocation, EXIT_CODE=code, EXIT_STATUS=status)


def failed(result: str, t: int = T0 + 2_000_000, invocation: str = INV) -> dict[str, str]:
    return rec("d9b373ed55a64feb8242e02dbe79a49c", t, invocation, UNIT_RESULT=result)


def stopping(t: int = T0 + 500_000, invocation: str = INV) -> dict[str, str]:
    return rec("de5b426a63be47a7b6ac3eaac82e2f6f", t, invocation, JOB_TYPE="stop",
               MESSAGE="Stopping apsis run r1...")


def at(t: int) -> datetime:
    return datetime.fromtimestamp(t / 1e6, tz=UTC)


def journal(records: list[dict[str, str]], notes: list[dict[str, str]] | None = None):
    return finished_from_journal("r1", UNIT, records, notes or [])


def test_clean_success() -> None:
    started, finished = journal([start(), success()])
    assert isinstance(started, Started) and isinstance(finished, Finished)
    assert (started.run_id, started.unit, started.invocation_id) == ("r1", UNIT, INV)
    assert started.start_time == at(T0) and started.main_pid is None
    assert finished.result == "success"
    assert finished.exit_code == 0 and finished.signal is None
    assert finished.recovered is True and finished.succeeded is True
    assert finished.stop_requested is False and finished.signals_sent == ()
    assert finished.invocation_id == INV
    assert finished.start_time == at(T0) and finished.end_time == at(T0 + 2_000_000)


def test_exit_code_failure() -> None:
    _, finished = journal([start(), exited("exited", "3"), failed("exit-code")])
    assert finished is not None
    assert (finished.result, finished.exit_code, finished.signal) == ("exit-code", 3, None)
    assert finished.succeeded is False


@pytest.mark.parametrize(
    ("code", "status", "name"),
    [("killed", "9", "KILL"), ("dumped", "11", "SEGV"),
     ("killed", "KILL", "KILL"), ("killed", "SIGTERM", "TERM")],
)
def test_killed_by_a_signal(code: str, status: str, name: str) -> None:
    result = "signal" if code == "killed" else "core-dump"
    _, finished = journal([start(), exited(code, status), failed(result)])
    assert finished is not None
    assert finished.signal == name and finished.exit_code is None
    assert finished.succeeded is False


def test_timeout() -> None:
    _, finished = journal([start(), exited("killed", "15"), failed("timeout")])
    assert finished is not None
    assert (finished.result, finished.signal, finished.exit_code) == ("timeout", "TERM", None)
    assert finished.succeeded is False


def test_stop_job_is_not_a_success() -> None:
    _, finished = journal([start(), stopping(), success()])
    assert finished is not None
    assert finished.result == "success"
    assert finished.stop_requested is True
    assert finished.exit_code is None  # not assumed 0: the stop signal may have ended it
    assert finished.succeeded is False


def test_stop_note_is_not_a_success() -> None:
    _, finished = journal([start(), success()], [{"APSIS_ACTION": "stop"}])
    assert finished is not None
    assert finished.stop_requested is True and finished.exit_code is None
    assert finished.succeeded is False


def test_kill_note() -> None:
    notes = [{"APSIS_ACTION": "kill", "APSIS_SIGNAL": "TERM"}, {"APSIS_ACTION": "kill"}, {"OTHER": "x"}]
    _, finished = journal([start(), success()], notes)
    assert finished is not None
    assert finished.signals_sent == ("TERM",)
    assert finished.stop_requested is False and finished.exit_code is None
    assert finished.succeeded is False


def test_stop_with_a_clean_exit_keeps_its_code() -> None:
    _, finished = journal([start(), stopping(), exited("exited", "0"), success()])
    assert finished is not None and finished.exit_code == 0 and finished.succeeded is False


def test_only_started() -> None:
    started, finished = journal([start()])
    assert finished is None
    assert started is not None and started.invocation_id == INV and started.start_time == at(T0)


def test_a_unit_gone_without_an_end_record_is_unknown_never_guessed() -> None:
    started, _ = journal([start()])
    end = unknown_end("r1", UNIT, started, stop_requested=True, signals_sent=("TERM",))
    assert (end.result, end.exit_code, end.signal, end.end_time) == ("unknown", None, None, None)
    assert end.invocation_id == INV and end.start_time == at(T0)
    assert end.recovered and end.stop_requested and end.signals_sent == ("TERM",)
    assert not end.succeeded
    assert unknown_end("r1", UNIT, None, stop_requested=False, signals_sent=()).invocation_id is None


def test_no_records() -> None:
    assert journal([]) == (None, None)
    assert journal([], [{"APSIS_ACTION": "stop"}]) == (None, None)


def test_an_end_without_a_started_record_still_started_if_its_main_process_exited() -> None:
    """PID 1 may log no "Started" for a program that ends as it starts: its main process's exit says it ran."""
    started, finished = journal([exited("exited", "2"), failed("exit-code")])
    assert started is not None and (started.invocation_id, started.start_time) == (INV, None)
    assert finished is not None and finished.exit_code == 2 and finished.start_time is None


def test_a_unit_that_failed_before_any_process_never_started() -> None:
    started, finished = journal([failed("resources")])
    assert started is None
    assert finished is not None and finished.result == "resources"


def test_failed_without_unit_result_is_unknown() -> None:
    record = failed("")
    del record["UNIT_RESULT"]
    _, finished = journal([start(), record])
    assert finished is not None and finished.result == "unknown"


def test_resources_record_gives_cpu_time() -> None:
    resources = rec("ae8f7b866b0347b9af31fe1c80b127c0", T0 + 2_000_001, CPU_USAGE_NSEC="12345678")
    _, finished = journal([start(), success(), resources])
    assert finished is not None and finished.cpu_time_ns == 12_345_678 and finished.memory_peak is None


@pytest.mark.parametrize(
    ("records", "result", "exit_code"),
    [
        ([start(T0, INV), exited("exited", "3", T0 + 1, INV), failed("exit-code", T0 + 2, INV),
          start(T0 + 10, INV2), success(T0 + 12, INV2)], "success", 0),
        ([start(T0, INV), success(T0 + 2, INV),
          start(T0 + 10, INV2), exited("exited", "4", T0 + 11, INV2), failed("exit-code", T0 + 12, INV2)],
         "exit-code", 4),
        ([start(T0, INV), stopping(T0 + 1, INV), success(T0 + 2, INV), start(T0 + 10, INV2),
          success(T0 + 12, INV2)], "success", 0),
    ],
)
def test_only_the_last_invocation_counts(records: list[dict[str, str]], result: str, exit_code: int) -> None:
    started, finished = journal(records)
    assert started is not None and finished is not None
    assert started.invocation_id == INV2 and finished.invocation_id == INV2
    assert started.start_time == at(T0 + 10)
    assert (finished.result, finished.exit_code, finished.stop_requested) == (result, exit_code, False)


def test_last_invocation_selects_records() -> None:
    first, second = [start(T0, INV), success(T0 + 1, INV)], [start(T0 + 10, INV2), success(T0 + 11, INV2)]
    no_id = rec("7ad2d189f7e94e70a38c781354912448", T0 + 12, None)
    assert last_invocation(first + second + [no_id]) == [*second, no_id]
    assert last_invocation(first) == first
    assert last_invocation(iter([success()])) == [success()]
    assert last_invocation([]) == []


def props(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "InvocationID": bytes.fromhex(INV), "Result": "success", "ExecMainCode": 1, "ExecMainStatus": 0,
        "ExecMainStartTimestamp": T0, "ExecMainExitTimestamp": T0 + 5,
        "CPUUsageNSec": 1000, "MemoryPeak": 4096,
    }
    return {**base, **values}


def from_props(stop_requested: bool = False, signals_sent: tuple[str, ...] = (), **values: Any) -> Finished:
    return finished_from_properties("r1", UNIT, props(**values), stop_requested=stop_requested,
                                    signals_sent=signals_sent)


@pytest.mark.parametrize(
    ("code", "status", "exit_code", "signal"),
    [(1, 0, 0, None), (1, 3, 3, None), (2, 9, None, "KILL"), (2, 15, None, "TERM"), (3, 11, None, "SEGV"),
     (0, 0, None, None), (None, None, None, None), (2, None, None, None), (2, 200, None, "200")],
)
def test_properties_exit(
    code: int | None, status: int | None, exit_code: int | None, signal: str | None
) -> None:
    finished = from_props(ExecMainCode=code, ExecMainStatus=status)
    assert (finished.exit_code, finished.signal) == (exit_code, signal)


def test_properties_fields() -> None:
    finished = from_props(Result="timeout", stop_requested=True, signals_sent=("INT",))
    assert finished.result == "timeout" and finished.invocation_id == INV
    assert finished.start_time == at(T0) and finished.end_time == at(T0 + 5)
    assert (finished.cpu_time_ns, finished.memory_peak) == (1000, 4096)
    assert finished.stop_requested is True and finished.signals_sent == ("INT",)
    assert finished.recovered is False and finished.succeeded is False


def test_properties_clean_success() -> None:
    assert from_props().succeeded is True


def test_properties_unset_values() -> None:
    finished = from_props(Result="", InvocationID=b"", ExecMainStartTimestamp=0, ExecMainExitTimestamp=0,
                          CPUUsageNSec=2**64 - 1, MemoryPeak=2**64 - 1)
    assert finished.result == "unknown" and finished.invocation_id is None
    assert finished.start_time is None and finished.end_time is None
    assert finished.cpu_time_ns is None and finished.memory_peak is None


def test_properties_fall_back_to_state_timestamps() -> None:
    finished = from_props(ExecMainStartTimestamp=0, ExecMainExitTimestamp=0,
                          InactiveExitTimestamp=T0 + 1, InactiveEnterTimestamp=T0 + 9)
    assert (finished.start_time, finished.end_time) == (at(T0 + 1), at(T0 + 9))


def ended(**values: Any) -> dict[str, Any]:
    base = {"InvocationID": b"\x01" * 16, "ActiveState": "inactive", "Job": (0, "/"), "LoadState": "loaded"}
    return {k: v for k, v in {**base, **values}.items() if v is not ...}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, True),
        ({"ActiveState": "failed"}, True),
        ({"Job": ...}, True),
        ({"LoadState": ...}, True),
        ({"InvocationID": b""}, False),
        ({"InvocationID": ...}, False),
        ({"ActiveState": "active"}, False),
        ({"ActiveState": "deactivating"}, False),
        ({"ActiveState": "activating"}, False),
        ({"Job": (12, "/org/freedesktop/systemd1/job/12")}, False),
        ({"LoadState": "not-found", "InvocationID": b"", "Result": "success"}, False),
        ({"LoadState": "not-found", "Result": "success"}, False),
        ({"LoadState": "stub"}, False),
        # After a daemon-reload systemd 252 cannot read back the ExecStartEx= it wrote: the unit is still there.
        ({"LoadState": "bad-setting"}, True),
        ({"LoadState": "bad-setting", "ActiveState": "failed"}, True),
    ],
)
def test_has_ended(values: dict[str, Any], expected: bool) -> None:
    assert has_ended(ended(**values)) is expected


@pytest.mark.parametrize(
    ("state", "invocation", "expected"),
    [("active", b"\x01", True), ("reloading", b"\x01", True), ("deactivating", b"\x01", True),
     ("active", b"", False), ("inactive", b"\x01", False), ("failed", b"\x01", False),
     ("activating", b"\x01", False)],
)
def test_has_started(state: str, invocation: bytes, expected: bool) -> None:
    assert has_started({"ActiveState": state, "InvocationID": invocation}) is expected


@pytest.mark.parametrize(
    ("number", "name"), [(9, "KILL"), (15, "TERM"), (2, "INT"), (11, "SEGV"), (999, "999")]
)
def test_signal_name(number: int, name: str) -> None:
    assert signal_name(number) == name


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, None), (None, None), (T0, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)), (1, at(1))],
)
def test_usec_time(value: int | None, expected: datetime | None) -> None:
    assert usec_time(value) == expected


def test_every_property_the_outcome_reads_is_one_a_host_keeps() -> None:
    source = Path(outcome.__file__).read_text()
    read = set(re.findall(r'props\.get\("([A-Za-z]+)"', source))
    assert read and read <= outcome.PROPERTIES, read - outcome.PROPERTIES


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"LoadState": "loaded", "ActiveState": "inactive"}, True),
        ({"LoadState": "bad-setting", "ActiveState": "active"}, True),  # its file unreadable after a reload
        ({"LoadState": "bad-setting", "ActiveState": "inactive"}, True),  # an armed run's, after a reload
        ({"LoadState": "error", "ActiveState": "failed"}, True),
        ({"LoadState": "not-found", "ActiveState": "inactive"}, False),  # what any name's object says
        ({"LoadState": "not-found", "ActiveState": "deactivating"}, True),  # still doing something
        ({"LoadState": "stub"}, False),
        ({}, False),
    ],
)
def test_exists(values: dict[str, Any], expected: bool) -> None:
    assert outcome.exists(values) is expected
