"""The Host's types on the wire: every one comes back equal, and a peer's mistakes are refused naming the field."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from agentd.errors import HostError, RunNotFound, SpecError
from agentd.host import Finished, OutputRecord, Started, StartResult, UnitState
from agentd.protocol.frames import ProtocolError
from agentd.protocol.messages import Hello, error_from_plain, error_to_plain
from agentd.protocol.wire import from_plain, moment_from_plain, to_plain
from agentd.spec import RunSpec
from agentd.types import RunId

NOW = datetime(2026, 12, 6, 20, 0, 0, 123456, tzinfo=UTC)
VALUES: list[Any] = [
    RunSpec(run_id=RunId("r1")),
    RunSpec(run_id=RunId("r2"), job_id="a/b", argv=("x", "y z"), user="nobody", env=MappingProxyType({"A": "1"}),
            cwd="/srv", timeout=2.5, stop_signal=9, grace_period=3, memory_max=10, cpu_quota=50.0, tasks_max=4,
            nice=-5, split_output=True, credentials=MappingProxyType({"k": "/etc/k"})),
    RunSpec(run_id=RunId("r3"), shell="echo hi", stop_signal="INT"),
    Started(run_id=RunId("r1"), unit="apsis-r1.service", invocation_id="ab", main_pid=7, start_time=NOW),
    Started(run_id=RunId("r1"), unit="apsis-r1.service", invocation_id="ab", main_pid=None, start_time=None),
    Finished(run_id=RunId("r1"), unit="u", invocation_id=None, result="exit-code", exit_code=3, signal=None,
             start_time=NOW, end_time=NOW.astimezone(timezone(timedelta(hours=-5))), cpu_time_ns=10**12,
             memory_peak=None, stop_requested=True, signals_sent=("TERM", "KILL"), recovered=True,
             output_lost="why"),
    UnitState(run_id=RunId("r1"), unit="u", active_state="active", sub_state="running"),
    StartResult(run_id=RunId("r1"), unit="u", adopted=True),
    OutputRecord(cursor="s=1;i=2", time=NOW, data=bytes(range(256)), priority=6, pid=None),
    Hello(protocol=1, agentd="0.1", hostname="h", machine_id="m", boot_id="b", user="root", manager="system"),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_every_type_comes_back_equal_through_json(value: Any) -> None:
    sent = json.loads(json.dumps(to_plain(value)))
    assert from_plain(type(value), sent, "x") == value


def test_a_time_keeps_its_instant_and_offset() -> None:
    moment = NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert moment_from_plain(to_plain(moment), "t") == moment
    assert moment_from_plain(to_plain(moment), "t").utcoffset() == timedelta(hours=5, minutes=30)


def test_a_time_without_offset_is_never_sent() -> None:
    with pytest.raises(ValueError, match="offset"):
        to_plain(datetime(2026, 1, 1))


def plain_spec(**changes: Any) -> dict[str, Any]:
    return {**to_plain(RunSpec(run_id=RunId("r1"), argv=("x",))), **changes}


@pytest.mark.parametrize(("data", "problem"), [
    ("spec", "expected an object, got str"),
    (plain_spec(argv="x"), r"spec\.argv: expected list, got str"),
    (plain_spec(argv=["x", 1]), r"spec\.argv\[1\]: expected str, got int"),
    (plain_spec(env={"A": 1}), r"spec\.env\.A: expected str"),
    (plain_spec(timeout="soon"), r"spec\.timeout: expected a number, got str"),
    (plain_spec(timeout=True), r"spec\.timeout: expected a number, got bool"),
    (plain_spec(memory_max=1.5), r"spec\.memory_max: expected int, got float"),
    (plain_spec(nice=False), r"spec\.nice: expected int, got bool"),
    (plain_spec(split_output=1), r"spec\.split_output: expected bool, got int"),
    (plain_spec(stop_signal=None), r"spec\.stop_signal: must not be null"),
    (plain_spec(stop_signal=[1]), r"spec\.stop_signal: expected str"),
    (plain_spec(run_id=None), r"spec\.run_id: expected str, got null"),
    (plain_spec(extra=1), r"unknown fields \['extra'\]"),
    ({"job_id": "x"}, "run_id"),
])
def test_a_bad_spec_is_refused_naming_the_field(data: Any, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        from_plain(RunSpec, data, "spec")


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("time", "yesterday", "not an ISO 8601 time"),
    ("time", "2026-12-06T20:00:00", "has no offset"),
    ("time", 5, "expected str"),
    ("data", "not base64!", "not base64"),
])
def test_a_bad_record_is_refused(field: str, value: Any, problem: str) -> None:
    data = {**to_plain(VALUES[8]), field: value}
    with pytest.raises(ProtocolError, match=problem):
        from_plain(OutputRecord, data, "record")


@pytest.mark.parametrize("error", [SpecError("env.A", "bad name"), RunNotFound("r7"), HostError("systemd said no")],
                         ids=lambda e: type(e).__name__)
def test_errors_cross_as_themselves(error: Exception) -> None:
    back = error_from_plain(json.loads(json.dumps(error_to_plain(error))), "db1")
    assert type(back) is type(error)
    assert str(error) in str(back)
    if isinstance(error, SpecError):
        assert isinstance(back, SpecError) and back.field == "env.A"


def test_an_unexpected_error_is_a_host_error_naming_the_host() -> None:
    back = error_from_plain(error_to_plain(ZeroDivisionError("oops")), "db1")
    assert type(back) is HostError and str(back) == "agentd on db1 failed: ZeroDivisionError: oops"


@pytest.mark.parametrize("data", [None, {}, {"kind": "spec", "message": 1}])
def test_an_error_without_a_message_is_a_protocol_error(data: Any) -> None:
    with pytest.raises(ProtocolError):
        error_from_plain(data, "db1")
