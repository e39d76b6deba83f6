"""A run's states: the whole transition table both ways, mark(), the times kept per state and the log line."""
from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.errors import TransitionError
from apsisd.runs.model import LogEntry, Origin, Run, mark, run_id, run_number, transition
from apsisd.runs.state import FINISHED, ON_HOST, TRANSITIONS, UNFINISHED, State, check_mark, check_transition

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = State

# The table as the issue and Apsis's states.py draw it (written out here, not read from the code under test):
# from each state, the states it may become, in the order the error message lists them (alphabetical).
ALLOWED: dict[State, list[State]] = {
    S.NEW: [S.ERROR, S.SCHEDULED, S.SKIPPED],
    S.SCHEDULED: [S.ERROR, S.SKIPPED, S.STARTING, S.WAITING],
    S.WAITING: [S.ERROR, S.SKIPPED, S.STARTING],
    # A program that ends at once may be reported ended before it was seen running.
    S.STARTING: [S.ERROR, S.FAILURE, S.RUNNING, S.STOPPING, S.SUCCESS],
    S.RUNNING: [S.ERROR, S.FAILURE, S.STOPPING, S.SUCCESS],
    S.STOPPING: [S.ERROR, S.FAILURE, S.SUCCESS],
    S.SUCCESS: [], S.FAILURE: [], S.ERROR: [], S.SKIPPED: [],
}
PAIRS = [(old, new) for old in State for new in State]


def a_run(state: State = S.NEW, **fields: object) -> Run:
    return Run(id=RunId("r7"), job_id=JobId("reports/daily"), args={"date": "2026-03-02"}, state=state,
               schedule_time=T0, **fields)  # type: ignore[arg-type]


def test_the_state_sets() -> None:
    assert [str(s) for s in State] == ["new", "scheduled", "waiting", "starting", "running", "stopping", "success",
                                       "failure", "error", "skipped"]
    assert FINISHED == {S.SUCCESS, S.FAILURE, S.ERROR, S.SKIPPED}
    assert UNFINISHED == {S.NEW, S.SCHEDULED, S.WAITING, S.STARTING, S.RUNNING, S.STOPPING}
    assert ON_HOST == {S.STARTING, S.RUNNING, S.STOPPING}
    assert [s for s in State if s.finished] == [S.SUCCESS, S.FAILURE, S.ERROR, S.SKIPPED]
    assert set(TRANSITIONS) == set(State)


def test_the_table_is_exactly_the_expected_one() -> None:
    assert {old: sorted(news) for old, news in TRANSITIONS.items()} == ALLOWED


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{old}->{new}" for old, new in PAIRS])
def test_every_pair_of_states(old: State, new: State) -> None:
    run = a_run(old)
    if new in ALLOWED[old]:
        check_transition(run.id, old, new)
        moved, entry = transition(run, new, T0 + timedelta(seconds=1), "because")
        assert (moved.state, moved.times[new], moved.reason) == (new, T0 + timedelta(seconds=1), "because")
        assert entry == LogEntry(run_id=run.id, time=T0 + timedelta(seconds=1), message="because", state=new)
        return
    options = ", ".join(ALLOWED[old]) or "none: it is finished"
    message = f"run r7 is {old}; it cannot become {new} (from {old} it may become: {options})"
    with pytest.raises(TransitionError) as raised:
        transition(run, new, T0, "because")
    assert str(raised.value) == message
    assert (raised.value.run_id, raised.value.old, raised.value.new) == ("r7", old, new)
    with pytest.raises(TransitionError, match="cannot become"):
        check_transition(run.id, old, new)


def test_no_state_leads_back_to_itself_or_out_of_finished() -> None:
    for old in State:
        assert old not in TRANSITIONS[old]
        assert (old in FINISHED) == (not TRANSITIONS[old])
    # Nothing goes back: no state leads to new, and only new leads to scheduled.
    assert [old for old, news in TRANSITIONS.items() if S.NEW in news] == []
    assert [old for old, news in TRANSITIONS.items() if S.SCHEDULED in news] == [S.NEW]


def test_a_whole_life_records_each_state_time_and_keeps_the_facts_given() -> None:
    run = a_run(S.NEW)
    log = []
    steps: list[tuple[State, str, dict[str, Any]]] = [
        (S.SCHEDULED, "scheduled by the job's schedule", {}),
        (S.STARTING, "starting", {"spec": RunSpec(run_id=RunId("r7"), shell="true")}),
        (S.RUNNING, "running as apsis-r7.service", {"unit": "apsis-r7.service", "invocation_id": "ab12",
                                                     "lateness": 0.25}),
        (S.STOPPING, "stop time reached", {}),
        (S.SUCCESS, "", {"exit_code": 0, "result": "success", "cpu_time_ns": 1000, "memory_peak": 4096}),
    ]
    for step, (state, reason, changes) in enumerate(steps, start=1):
        run, entry = transition(run, state, T0 + timedelta(seconds=step), reason, **changes)
        log.append(entry)
    assert dict(run.times) == {S.SCHEDULED: T0 + timedelta(seconds=1), S.STARTING: T0 + timedelta(seconds=2),
                               S.RUNNING: T0 + timedelta(seconds=3), S.STOPPING: T0 + timedelta(seconds=4),
                               S.SUCCESS: T0 + timedelta(seconds=5)}
    assert list(run.times) == [S.SCHEDULED, S.STARTING, S.RUNNING, S.STOPPING, S.SUCCESS]
    assert (run.unit, run.invocation_id, run.lateness, run.exit_code, run.result) == (
        "apsis-r7.service", "ab12", 0.25, 0, "success")
    assert run.spec == RunSpec(run_id=RunId("r7"), shell="true")
    assert run.finished and run.reason == ""
    # A transition without a reason is logged by the state it entered.
    assert [(e.state, e.message) for e in log] == [
        (S.SCHEDULED, "scheduled by the job's schedule"), (S.STARTING, "starting"),
        (S.RUNNING, "running as apsis-r7.service"), (S.STOPPING, "stop time reached"), (S.SUCCESS, "success")]
    assert {e.run_id for e in log} == {"r7"}


def test_a_transition_makes_a_new_run_and_leaves_the_old_one_as_it_was() -> None:
    old = a_run(S.SCHEDULED, times={S.SCHEDULED: T0})
    new, _ = transition(old, S.SKIPPED, T0 + timedelta(hours=1), "skipped by an operator")
    assert (old.state, dict(old.times), old.reason) == (S.SCHEDULED, {S.SCHEDULED: T0}, "")
    assert dict(new.times) == {S.SCHEDULED: T0, S.SKIPPED: T0 + timedelta(hours=1)}
    with pytest.raises(TypeError):
        new.times[S.ERROR] = T0  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        new.state = S.ERROR  # type: ignore[misc]
    # Everything not named stays: the job, args, schedule time, origin, attempt.
    assert (new.job_id, dict(new.args), new.schedule_time, new.origin, new.attempt) == (
        old.job_id, dict(old.args), old.schedule_time, Origin.SCHEDULE, 1)


def test_a_refused_transition_changes_nothing() -> None:
    run = a_run(S.RUNNING, times={S.RUNNING: T0})
    with pytest.raises(TransitionError):
        transition(run, S.WAITING, T0 + timedelta(seconds=1), "no", unit="x")
    assert (run.state, dict(run.times), run.unit) == (S.RUNNING, {S.RUNNING: T0}, None)


# -- mark: an operator's correction of a finished run's record ---------------------------------------------------

@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{old}->{new}" for old, new in PAIRS])
def test_mark_goes_only_from_a_finished_state_to_another(old: State, new: State) -> None:
    run = a_run(old, times={old: T0}, reason="exit code 1")
    later = T0 + timedelta(minutes=5)
    if old in FINISHED and new in FINISHED and old is not new:
        marked, entry = mark(run, new, later, "the data was fine after all")
        assert (marked.state, marked.times[new], marked.times[old]) == (new, later, T0)
        assert marked.reason == f"marked as {new}: the data was fine after all"
        assert entry == LogEntry(run_id=run.id, time=later, message=marked.reason, state=new)
        check_mark(run.id, old, new)
        return
    with pytest.raises(TransitionError) as raised:
        mark(run, new, later, "why")
    if old in FINISHED:  # to itself, or to a state that is not finished
        others = ", ".join(str(s) for s in sorted(FINISHED - {old}))
        assert str(raised.value) == f"run r7 is {old}; it cannot become {new} (from {old} it may become: {others})"
    else:
        assert str(raised.value) == (f"run r7 is {old}; it cannot become {new} (only a finished run can be marked; "
                                     f"this one is {old})")
    assert (raised.value.old, raised.value.new) == (old, new)


def test_mark_without_a_reason_says_only_what_it_did() -> None:
    marked, entry = mark(a_run(S.ERROR), S.SUCCESS, T0, "")
    assert marked.reason == entry.message == "marked as success"


def test_the_table_never_lets_a_finished_run_be_rewritten_except_by_mark() -> None:
    for old in FINISHED:
        for new in State:
            with pytest.raises(TransitionError, match="none: it is finished"):
                check_transition("r1", old, new)


# -- ids and the run's derived facts ----------------------------------------------------------------------------


@pytest.mark.parametrize("number", [1, 9, 10, 123, 10**12])
def test_run_ids_are_r_and_the_number_both_ways(number: int) -> None:
    assert run_id(number) == f"r{number}"
    assert run_number(run_id(number)) == number


def test_instance_is_the_job_and_sorted_args_and_finished_follows_the_state() -> None:
    run = Run(id=RunId("r1"), job_id=JobId("j"), args={"b": "2", "a": "1"}, schedule_time=T0)
    assert run.instance == ("j", (("a", "1"), ("b", "2")))
    assert hash(run.instance) == hash(("j", (("a", "1"), ("b", "2"))))
    assert Run(id=RunId("r2"), job_id=JobId("j"), schedule_time=T0).instance == ("j", ())
    assert not run.finished and run.state is S.NEW
    assert all(a_run(s).finished == (s in FINISHED) for s in State)
    assert (run.origin, run.attempt, run.previous, dict(run.times), dict(run.args)) == (
        Origin.SCHEDULE, 1, None, {}, {"a": "1", "b": "2"})
