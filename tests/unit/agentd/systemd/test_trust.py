"""Which journal records apsisd believes: the matches and the checks made on what they find."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentd.systemd.trust import (
    OutputSource,
    Writer,
    is_output,
    manager_records,
    output_matches,
    own_notes,
    writer_from_notes,
    writer_note,
)
from agentd.types import RunId

START = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
WRITER = Writer(pid=4242, uid=65534, start=START)
INVOCATION = "ad132184a7d64280a05a9a1dd7623deb"
SPLIT = OutputSource(unit="apsis-r7.service", identifier="apsis-r7", invocation_id=INVOCATION, writer=WRITER)
PLAIN = OutputSource(unit="apsis-r7.service", identifier="apsis-r7", invocation_id=INVOCATION)


def entry(at: datetime = START + timedelta(seconds=1), **fields: str) -> dict[str, Any]:
    return {"__REALTIME_TIMESTAMP": str(round(at.timestamp() * 1e6)), **fields}


def test_the_managers_records_are_pid_1s() -> None:
    assert manager_records("apsis-r7.service", user_manager=False) == ["UNIT=apsis-r7.service", "_PID=1", "_UID=0"]
    assert manager_records("apsis-r7.service", user_manager=True) == [
        "USER_UNIT=apsis-r7.service", f"_UID={os.geteuid()}", "_SYSTEMD_USER_UNIT=init.scope"]


def test_apsisds_notes_are_its_own_uids() -> None:
    assert own_notes(RunId("r7")) == ["APSIS_RUN_ID=r7", "_TRANSPORT=journal", f"_UID={os.geteuid()}",
                                      "SYSLOG_IDENTIFIER=apsisd"]


def test_a_runs_output_is_its_units_stream_lines_and_its_writers() -> None:
    assert output_matches(PLAIN, user_manager=False, only=[]) == ["_SYSTEMD_UNIT=apsis-r7.service",
                                                                  "_TRANSPORT=stdout"]
    assert output_matches(SPLIT, user_manager=False, only=["PRIORITY=3"]) == [
        "_SYSTEMD_UNIT=apsis-r7.service", "_TRANSPORT=stdout", "PRIORITY=3", "+",
        "_PID=4242", "_UID=65534", "SYSLOG_IDENTIFIER=apsis-r7", "_TRANSPORT=stdout", "PRIORITY=3"]
    assert output_matches(SPLIT, user_manager=True, only=[]) == [
        "SYSLOG_IDENTIFIER=apsis-r7", f"_UID={os.geteuid()}", "_TRANSPORT=stdout"]


@pytest.mark.parametrize(("source", "found", "mine"), [
    (SPLIT, entry(_SYSTEMD_UNIT="apsis-r7.service", _SYSTEMD_INVOCATION_ID=INVOCATION), True),
    (PLAIN, entry(_SYSTEMD_UNIT="apsis-r7.service"), True),  # read once the unit was unloaded: no invocation
    # an earlier run of the same unit name
    (PLAIN, entry(_SYSTEMD_UNIT="apsis-r7.service", _SYSTEMD_INVOCATION_ID="0" * 32), False),
    (SPLIT, entry(_PID="4242", _UID="65534"), True),  # read after the writer was gone
    # the writer's pid, reused by a process journald saw elsewhere
    (SPLIT, entry(_PID="4242", _UID="65534", _SYSTEMD_UNIT="session-3.scope"), False),
    (SPLIT, entry(START - timedelta(seconds=1), _PID="4242", _UID="65534"), False),  # before the writer started
])
def test_what_a_match_found_is_the_runs_by_what_journald_set(source: OutputSource, found: dict[str, Any],
                                                             mine: bool) -> None:
    assert is_output(found, source, user_manager=False) is mine


def test_the_writer_noted_is_read_back_for_its_invocation_only() -> None:
    note = {**writer_note(WRITER, INVOCATION), "APSIS_RUN_ID": "r7"}
    assert writer_from_notes([note], INVOCATION) == WRITER
    assert writer_from_notes([note], "1" * 32) is None
    assert writer_from_notes([{"APSIS_ACTION": "stop"}], INVOCATION) is None
    assert writer_from_notes([{**note, "APSIS_MAIN_PID": "x"}], INVOCATION) is None
