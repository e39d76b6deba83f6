"""The ledger: unfinished runs by id and by job, and the scheduled ones by due time, each due exactly once."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from agentd.types import JobId, RunId
from apsisd.runs.model import Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler.ledger import Ledger

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def run(number: int, minutes: int = 0, state: State = State.SCHEDULED, job: str = "j",
        origin: Origin = Origin.SCHEDULE) -> Run:
    return Run(id=RunId(f"r{number}"), job_id=JobId(job), state=state, schedule_time=T0 + timedelta(minutes=minutes),
               origin=origin)


def ids(runs: object) -> list[str]:
    return [r.id for r in runs]  # type: ignore[attr-defined]


def test_an_empty_ledger() -> None:
    ledger = Ledger()
    assert (len(ledger), ledger.all(), ledger.get(RunId("r1")), ledger.next_due()) == (0, [], None, None)
    assert ledger.pop_due(T0 + timedelta(days=365)) == []
    assert list(ledger.active(JobId("j"))) == [] and ledger.scheduled_by_schedule(JobId("j")) == []


def test_unfinished_runs_are_kept_by_id_and_job_and_finished_ones_leave() -> None:
    ledger = Ledger()
    for r in (run(1), run(2, state=State.RUNNING), run(3, job="k", state=State.WAITING)):
        ledger.put(r)
    assert len(ledger) == 3 and ids(ledger.all()) == ["r1", "r2", "r3"]
    assert ids(ledger.active(JobId("j"))) == ["r1", "r2"] and ids(ledger.active(JobId("k"))) == ["r3"]
    ledger.put(run(2, state=State.SUCCESS))
    ledger.put(run(3, job="k", state=State.ERROR))
    assert ids(ledger.all()) == ["r1"] and ledger.get(RunId("r2")) is None
    assert list(ledger.active(JobId("k"))) == []
    ledger.put(run(9, state=State.SKIPPED))  # a run recorded finished at once (a missed run skipped)
    assert len(ledger) == 1 and ledger.get(RunId("r9")) is None


def test_put_replaces_the_run_with_its_latest_value() -> None:
    ledger = Ledger()
    ledger.put(run(1))
    moved = replace(run(1), state=State.STARTING, unit="apsis-r1.service")
    ledger.put(moved)
    assert ledger.get(RunId("r1")) is moved and ledger.active(JobId("j")) == [moved] and len(ledger) == 1


def test_scheduled_by_schedule_leaves_out_other_origins_and_states() -> None:
    ledger = Ledger()
    for r in (run(1), run(2, origin=Origin.RETRY), run(3, state=State.WAITING), run(4, minutes=5),
              run(5, job="k"), run(6, origin=Origin.MANUAL)):
        ledger.put(r)
    assert ids(ledger.scheduled_by_schedule(JobId("j"))) == ["r1", "r4"]


def test_due_runs_come_in_time_order_ties_in_the_order_put() -> None:
    ledger = Ledger()
    for number, minutes in [(1, 30), (2, 10), (3, 20), (4, 10), (5, 0)]:
        ledger.put(run(number, minutes))
    assert ledger.next_due() == T0
    assert ids(ledger.pop_due(T0 + timedelta(minutes=10))) == ["r5", "r2", "r4"]  # at or before now
    assert ledger.next_due() == T0 + timedelta(minutes=20)
    assert ids(ledger.pop_due(T0 + timedelta(minutes=15))) == []
    assert ids(ledger.pop_due(T0 + timedelta(hours=1))) == ["r3", "r1"]
    assert ledger.next_due() is None
    # Popped runs stay in the ledger (they are still scheduled until they move), but are never due again.
    assert len(ledger) == 5 and ledger.pop_due(T0 + timedelta(days=1)) == []


def test_a_popped_run_put_again_unchanged_is_not_due_again() -> None:
    ledger = Ledger()
    ledger.put(run(1))
    assert ids(ledger.pop_due(T0)) == ["r1"]
    ledger.put(replace(run(1), reason="a new fact, same state and time"))
    assert ledger.next_due() is None and ledger.pop_due(T0) == []


def test_runs_that_moved_on_or_finished_are_dropped_from_the_due_heap() -> None:
    ledger = Ledger()
    for number in range(1, 5):
        ledger.put(run(number, number))
    ledger.put(run(1, 1, State.WAITING))
    ledger.put(run(2, 2, State.SKIPPED))
    ledger.forget(RunId("r3"))  # withdrawn by a reload
    assert ledger.next_due() == T0 + timedelta(minutes=4)
    assert ids(ledger.pop_due(T0 + timedelta(hours=1))) == ["r4"]
    assert ids(ledger.all()) == ["r1", "r4"]


def test_a_rescheduled_run_is_due_once_at_its_new_time() -> None:
    ledger = Ledger()
    ledger.put(run(1, 10))
    ledger.put(run(1, 30))
    assert ledger.next_due() == T0 + timedelta(minutes=30)
    assert ledger.pop_due(T0 + timedelta(minutes=20)) == []
    assert ids(ledger.pop_due(T0 + timedelta(minutes=30))) == ["r1"]


def test_a_run_rescheduled_and_back_is_due_once() -> None:
    ledger = Ledger()
    ledger.put(run(1, 10))
    ledger.put(run(1, 30))
    ledger.put(run(1, 10))
    assert ids(ledger.pop_due(T0 + timedelta(hours=1))) == ["r1"]


def test_a_run_forgotten_then_put_again_is_due_once() -> None:
    ledger = Ledger()
    ledger.put(run(1, 10))
    ledger.forget(RunId("r1"))
    ledger.put(run(1, 10))
    assert ids(ledger.pop_due(T0 + timedelta(hours=1))) == ["r1"]
    ledger.forget(RunId("r1"))
    assert ledger.next_due() is None


def test_a_popped_run_rescheduled_is_due_again_at_its_new_time() -> None:
    ledger = Ledger()
    ledger.put(run(1, 10))
    assert ids(ledger.pop_due(T0 + timedelta(minutes=10))) == ["r1"]
    ledger.put(run(1, 40))
    assert ids(ledger.pop_due(T0 + timedelta(hours=1))) == ["r1"]


def test_forget_drops_a_run_and_its_jobs_entry() -> None:
    ledger = Ledger()
    ledger.put(run(1, job="k"))
    ledger.forget(RunId("r1"))
    ledger.forget(RunId("r404"))  # unknown: nothing to do
    assert (len(ledger), list(ledger.active(JobId("k"))), ledger.scheduled_by_schedule(JobId("k"))) == (0, [], [])


def test_a_run_taken_but_left_scheduled_is_due_again_once_and_only_when_taken() -> None:
    """A held job's run the loop took off the heap stays scheduled; released, it is due again, once."""
    ledger = Ledger()
    ledger.put(run(1))
    ledger.put(run(2, minutes=30))
    assert ids(ledger.pop_due(T0)) == ["r1"]
    ledger.due_again(RunId("r2"))  # never taken: still due once at its time
    ledger.due_again(RunId("r1"))
    ledger.due_again(RunId("r1"))
    assert ids(ledger.pop_due(T0 + timedelta(hours=1))) == ["r1", "r2"]
    assert ledger.pop_due(T0 + timedelta(hours=1)) == []
    ledger.put(run(1, state=State.STARTING))
    ledger.due_again(RunId("r1"))  # no longer scheduled: not due
    ledger.due_again(RunId("r9"))  # unknown: nothing
    assert ledger.pop_due(T0 + timedelta(hours=1)) == []
