"""bench/fleet.py's accounting: the slots a load makes, and lost, doubled and disturbed runs found from the store's
runs and the hosts' journals. The bench's verdict rests on these; its timings are never asserted."""
from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from agentd.types import JobId, RunId
from apsisd.runs.model import Run
from apsisd.runs.state import State

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # the benches import each other so
import fleet


def run(run_id: str, job: str, due: float, state: State = State.SUCCESS, host: str = "p1") -> Run:
    return Run(id=RunId(run_id), job_id=JobId(job), schedule_time=datetime.fromtimestamp(due, UTC), state=state,
               host=host, lateness=0.01)


def started(*records: tuple[str, str]) -> str:
    """journalctl -o json lines of PID 1's "Started" records: (unit, cursor)."""
    return "".join(json.dumps({"UNIT": unit, "__CURSOR": cursor}) + "\n" for unit, cursor in records)


def test_the_slots_of_a_load_are_each_jobs_instants_in_the_window_with_phases_spread_over_the_interval() -> None:
    load = fleet.Load(jobs=3, every=6.0, seconds=12)
    assert [load.phase(job) for job in range(3)] == [0.0, 2.0, 4.0]
    assert load.slots((600.0, 612.0)) == {("j0", 600_000), ("j0", 606_000), ("j1", 602_000), ("j1", 608_000),
                                          ("j2", 604_000), ("j2", 610_000)}
    assert load.slots((601.0, 607.0)) == {("j1", 602_000), ("j2", 604_000), ("j0", 606_000)}


def test_a_unit_started_twice_counts_once_per_record_even_when_two_journals_hold_the_same_record() -> None:
    one = started(("apsis-0123abcd\\x2dr1.service", "c1"), ("apsis-0123abcd\\x2dr2.service", "c2"),
                  ("apsis-0123abcd\\x2dr2.service", "c3"), ("apsis-r3.service", "c4"), ("ssh.service", "c5"),
                  ("apsis-0123abcd\\x2dr9.service", "c6"))
    other = started(("apsis-0123abcd\\x2dr1.service", "c1"), ("apsis-0123abcd\\x2dr3.service", "c7"))
    assert fleet.unit_starts([one, other], {RunId("r1"), RunId("r2"), RunId("r3")}) == {"r1": 1, "r2": 2, "r3": 2}


def test_the_accounting_finds_lost_doubled_stuck_and_failed_runs() -> None:
    load = fleet.Load(jobs=2, every=6.0, seconds=12)
    slots = load.slots((600.0, 612.0))  # j0 at 600, 606; j1 at 603, 609
    runs = [run("r1", "j0", 600), run("r2", "j0", 606), run("r3", "j0", 606, State.FAILURE),
            run("r4", "j1", 603, State.RUNNING)]  # j1 at 609: none
    journal = started(("apsis-x1\\x2dr1.service", "a"), ("apsis-x1\\x2dr2.service", "b"),
                      ("apsis-x1\\x2dr2.service", "c"))
    phase = fleet.Phase(name="remote")
    fleet.account(phase, slots, runs, [journal])
    assert phase.slots == 4
    assert phase.lost == [("j1", 609_000)]
    assert phase.doubled_slots == [["r2", "r3"]]
    assert phase.doubled_units == {"r2": 2}
    assert phase.journal_started == 2
    assert [r.id for r in phase.stuck] == ["r4"]
    assert [r.id for r in phase.not_success] == ["r3"]
    assert phase.broken


def test_nothing_lost_or_doubled_is_not_broken() -> None:
    phase = fleet.Phase(name="local")
    fleet.account(phase, {("j0", 600_000)}, [run("r1", "j0", 600, host="local")],
                  [started(("apsis-r1.service", "a"))])
    assert (phase.lost, phase.doubled_slots, phase.doubled_units, phase.broken) == ([], [], {}, False)


def test_a_run_is_disturbed_when_its_host_had_chaos_in_the_recovery_time_before_it_was_due() -> None:
    phase = fleet.Phase(name="remote")
    phase.chaos["p1"].append((100.0, 110.0))  # a cut from 100 to 110
    assert not fleet.disturbed(phase, run("r1", "j0", 99.0))
    assert fleet.disturbed(phase, run("r2", "j0", 105.0))
    assert fleet.disturbed(phase, run("r3", "j0", 110.0 + fleet.RECOVERY))
    assert not fleet.disturbed(phase, run("r4", "j0", 110.5 + fleet.RECOVERY))
    assert not fleet.disturbed(phase, run("r5", "j0", 105.0, host="p2"))
