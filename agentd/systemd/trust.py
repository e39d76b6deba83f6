"""Which journal records apsisd believes: matched by the fields journald sets itself, never by what a writer says.

Any local user can write a record with any field whose name does not start
with `_` (`logger --journald`, `systemd-cat -t apsis-r7`, sd_journal_send):
UNIT=, MESSAGE_ID=, EXIT_STATUS=, INVOCATION_ID=, APSIS_RUN_ID=,
SYSLOG_IDENTIFIER=. journald drops `_` fields a client sends and sets them
from the kernel (the peer's pid and uid, and from them the cgroup), so only
those tell who wrote a record. Hence, as `journalctl -u` does:

- the manager's records of a unit: UNIT= and `_PID=1` (a user manager's:
  USER_UNIT= and its uid, from its own cgroup);
- apsisd's notes: APSIS_RUN_ID= written by apsisd's own uid;
- a run's output: lines of the unit's streams (`_SYSTEMD_UNIT`, its
  `_SYSTEMD_INVOCATION_ID`), and a split run's lines journald read after
  systemd-cat's process was gone, which lack the unit: those are known by
  the writer's `_PID` and `_UID`, that is the run's main process (see
  Writer). See docs/host.md, "What the journal is believed on".
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agentd.systemd.journal import entry_time
from agentd.types import RunId

# The fields of an output record that decide whether it is the run's.
PROVENANCE_FIELDS = "_SYSTEMD_UNIT,_SYSTEMD_INVOCATION_ID"
NOTE_IDENTIFIER = "apsisd"


def manager_records(unit: str, *, user_manager: bool) -> list[str]:
    """journalctl matches for what the service manager wrote about `unit` (started, exited, failed, ...)."""
    if user_manager:
        # The user manager is the process in its own init.scope, and runs as us: what our uid writes elsewhere
        # is not it. (Its runs share the uid; they could also stop each other.)
        return [f"USER_UNIT={unit}", f"_UID={os.geteuid()}", "_SYSTEMD_USER_UNIT=init.scope"]
    return [f"UNIT={unit}", "_PID=1", "_UID=0"]


def own_notes(run_id: RunId) -> list[str]:
    """journalctl matches for apsisd's notes about the run (journal.send): native records of apsisd's uid.

    Not its pid: the notes that matter are an earlier apsisd's. A process of
    apsisd's uid (root) could forge them, and could do anything else too.
    """
    return [f"APSIS_RUN_ID={run_id}", "_TRANSPORT=journal", f"_UID={os.geteuid()}",
            f"SYSLOG_IDENTIFIER={NOTE_IDENTIFIER}"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Writer:
    """The process that opened a split run's streams to journald (systemd-cat, which then exec()s the program:
    the unit's main process), with its uid and when it started, all as systemd told them."""

    pid: int
    uid: int
    start: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSource:
    """What is known, from systemd or apsisd's own notes, of where a run's output came from."""

    unit: str
    identifier: str  # the run's own SYSLOG_IDENTIFIER (a split run's and a user manager's runs')
    invocation_id: str | None
    writer: Writer | None = None


def output_matches(source: OutputSource, *, user_manager: bool, only: list[str]) -> list[str]:
    """journalctl matches (`+` between alternatives) for the run's output lines; `only` is added to each.

    Every one has `_TRANSPORT=stdout`: a stream's lines, never a native record
    (whose every field but the `_` ones its writer chose).
    """
    only = ["_TRANSPORT=stdout", *only]
    if user_manager:
        # journald gives a user manager's streams no unit after their writer is gone (it trusts only root's
        # word for it): the run's own identifier, written by our uid (the runs' too, which is as far as a
        # user manager's runs are kept apart).
        return [f"SYSLOG_IDENTIFIER={source.identifier}", f"_UID={os.geteuid()}", *only]
    matches = [f"_SYSTEMD_UNIT={source.unit}", *only]
    if source.writer is not None:
        writer = source.writer
        matches += ["+", f"_PID={writer.pid}", f"_UID={writer.uid}", f"SYSLOG_IDENTIFIER={source.identifier}",
                    *only]
    return matches


def is_output(entry: Mapping[str, Any], source: OutputSource, *, user_manager: bool) -> bool:
    """Whether a record output_matches() found is the run's, by what its match cannot say.

    A line of another invocation of the unit (an earlier run of the same name)
    is not; nor is a line by the writer's pid that journald saw in another
    unit, or one it stored before the writer started (the pid was someone
    else's then). A user manager's lines are its runs' by their identifier.
    """
    if user_manager:
        return True
    invocation = entry.get("_SYSTEMD_INVOCATION_ID")
    if invocation is not None and source.invocation_id is not None:
        return bool(invocation == source.invocation_id)
    unit = entry.get("_SYSTEMD_UNIT")
    if unit is not None or source.writer is None:
        return bool(unit == source.unit)
    return entry_time(entry) >= source.writer.start


def writer_note(writer: Writer, invocation_id: str) -> dict[str, str]:
    """The fields of apsisd's note of a split run's writer: once the unit is gone, only the note tells it."""
    return {"APSIS_ACTION": "started", "APSIS_INVOCATION_ID": invocation_id, "APSIS_MAIN_PID": str(writer.pid),
            "APSIS_UID": str(writer.uid), "APSIS_START_USEC": str(round(writer.start.timestamp() * 1_000_000))}


def writer_from_notes(notes: Sequence[Mapping[str, Any]], invocation_id: str | None) -> Writer | None:
    """The writer apsisd noted for that invocation of the run's unit (notes from own_notes() only)."""
    for note in reversed(notes):
        fields = [note.get(k, "") for k in ("APSIS_MAIN_PID", "APSIS_UID", "APSIS_START_USEC")]
        if (note.get("APSIS_ACTION") == "started" and invocation_id and note.get("APSIS_INVOCATION_ID") == invocation_id
                and all(isinstance(f, str) and f.isdigit() for f in fields)):
            pid, uid, start = (int(f) for f in fields)
            return Writer(pid=pid, uid=uid, start=datetime.fromtimestamp(start / 1e6, tz=UTC))
    return None
