"""codec: every Run field, RunSpec and log line through a row and back; times exact to the microsecond."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.errors import StoreError
from apsisd.runs.model import LogEntry, Origin, Run
from apsisd.runs.state import State
from apsisd.store import codec

T = datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=UTC)
SPEC = RunSpec(run_id=RunId("r42"), job_id=JobId("etl/load"), argv=("/bin/etl", "--date", "2026-03-29", "ü"),
               user="etl", group="data", env={"B": "2", "A": "1"}, cwd="/srv", timeout=3600.5, stop_signal=15,
               grace_period=12.25, memory_max=2 << 30, cpu_quota=150.0, tasks_max=64, nice=-5,
               split_output=True, credentials={"token": "/etc/apsis/token"},
               encrypted_credentials={"db": "/etc/apsis/db.cred"})
FULL = Run(
    id=RunId("r42"), job_id=JobId("etl/load"), args={"region": "eu", "date": "2026-03-29"}, state=State.FAILURE,
    schedule_time=T, times={State.SCHEDULED: T - timedelta(hours=1), State.STARTING: T + timedelta(microseconds=1),
                            State.RUNNING: T + timedelta(seconds=1), State.FAILURE: T + timedelta(minutes=5)},
    origin=Origin.RETRY, attempt=3, previous=RunId("r41"), reason="exit code 2", stop_time=T + timedelta(hours=2),
    spec=SPEC, unit="apsis-r42.service", invocation_id="0123456789abcdef0123456789abcdef", exit_code=2,
    signal="TERM", result="exit-code", cpu_time_ns=123_456_789_012, memory_peak=987_654_321, lateness=0.012345,
)


def round_trip(run: Run) -> Run:
    row = codec.encode_run(run, T)
    assert len(row) == len(codec.RUN_COLUMNS)
    return codec.decode_run(row[:-1])


def test_every_field_survives() -> None:
    back = round_trip(FULL)
    assert back == FULL
    assert back.spec == SPEC and isinstance(back.spec.argv, tuple) and back.spec.env == {"A": "1", "B": "2"}
    assert isinstance(back.args, MappingProxyType) and isinstance(back.times, MappingProxyType)
    assert all(isinstance(state, State) for state in back.times)


def test_defaults_and_nones_survive() -> None:
    bare = Run(id=RunId("r1"), job_id=JobId("j"), schedule_time=T)
    assert round_trip(bare) == bare


def test_shell_spec_and_defaults() -> None:
    spec = RunSpec(run_id=RunId("r7"), shell="echo 'hi'; exit 3")
    assert codec.decode_spec(codec.encode_spec(spec)) == spec
    assert codec.decode_spec(codec.encode_spec(SPEC)) == SPEC


def test_a_spec_stored_before_a_field_was_added_reads_with_its_default() -> None:
    old = json.loads(codec.encode_spec(SPEC))
    del old["split_output"]
    assert codec.decode_spec(json.dumps(old)).split_output is False


def test_times_are_exact_microseconds_in_any_zone() -> None:
    paris = datetime(2026, 10, 25, 2, 30, 0, 1, tzinfo=ZoneInfo("Europe/Paris"), fold=1)
    for moment in (T, paris, datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
                   datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)):
        micros = codec.encode_time(moment, "t")
        assert isinstance(micros, int)
        # Back in UTC: the same instant (compared in UTC, as Python never equates a repeated hour across zones).
        assert codec.decode_time(micros) == moment.astimezone(UTC)
        assert codec.decode_time(micros).tzinfo is UTC
    assert codec.encode_time(paris, "t") - codec.encode_time(paris.replace(fold=0), "t") == 3600 * 10**6


def test_naive_times_are_refused_with_the_field() -> None:
    with pytest.raises(StoreError, match=r"run r42: stop_time is a naive datetime"):
        codec.encode_run(Run(**{**_fields(FULL), "stop_time": datetime(2026, 1, 1)}), T)
    with pytest.raises(StoreError, match=r"times\.running"):
        codec.encode_run(Run(**{**_fields(FULL), "times": {State.RUNNING: datetime(2026, 1, 1)}}), T)


def test_args_are_canonical_text() -> None:
    assert codec.encode_args({"b": "2", "a": "ü"}) == codec.encode_args({"a": "ü", "b": "2"}) == '{"a":"ü","b":"2"}'
    assert json.loads(codec.encode_args({})) == {}


@pytest.mark.parametrize("text", ["r0", "r012", "x1", "r", "", "r-3", "r 3", "R3", f"r{2**63}", "r\u0661\u0662"])
def test_malformed_run_ids(text: str) -> None:
    assert codec.number_of(text) is None
    with pytest.raises(StoreError, match="not of the form r<number>"):
        codec.encode_id(RunId(text))


def test_run_ids_are_row_numbers() -> None:
    assert codec.encode_id(RunId("r1")) == 1 and codec.number_of("r123456789") == 123456789


def test_a_row_the_store_never_wrote_is_refused() -> None:
    row = list(codec.encode_run(FULL, T)[:-1])
    row[3] = "exploded"
    with pytest.raises(StoreError, match="stored run r42 cannot be read"):
        codec.decode_run(tuple(row))


def test_log_lines() -> None:
    for entry in (LogEntry(run_id=RunId("r9"), time=T, message="started as apsis-r9.service", state=State.RUNNING),
                  LogEntry(run_id=RunId("r9"), time=T, message="webhook failed: 500")):
        assert codec.decode_log(codec.encode_log(entry)) == entry


def _fields(run: Run) -> dict[str, object]:
    return {name: getattr(run, name) for name in Run.__dataclass_fields__}
