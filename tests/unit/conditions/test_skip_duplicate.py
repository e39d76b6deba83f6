"""skip_duplicate: another run of the same job and args under way ends this one at once; it never waits."""
from __future__ import annotations

import pytest
from fake_run_view import FakeJobs, FakeView, awaited, make_run

from apsisd.conditions.base import READY, Settle, Verdict
from apsisd.conditions.registry import parse_condition
from apsisd.conditions.skip_duplicate import SkipDuplicate
from apsisd.runs.model import Run
from apsisd.runs.state import State


def skip_duplicate(**fields: object) -> SkipDuplicate:
    parsed = parse_condition({"type": "skip_duplicate", **fields})
    assert isinstance(parsed, SkipDuplicate)
    return parsed


def verdict(condition: SkipDuplicate, *others: Run, me: Run | None = None) -> Verdict:
    me = me or make_run(10, date="d1")
    bound = condition.bind(me, FakeJobs(job=("date",)), {})
    assert bound.watches() == {"job"}
    return awaited(bound.check(me, FakeView(me, *others)))


@pytest.mark.parametrize("state", [State.STARTING, State.RUNNING, State.STOPPING])
def test_a_run_of_the_same_job_and_args_under_way_skips_this_one(state: State) -> None:
    assert verdict(skip_duplicate(), make_run(3, state=state, date="d1")) == Settle(
        State.SKIPPED, f"duplicate of r3, which is {state}")
    assert verdict(skip_duplicate(), make_run(30, state=state, date="d1")) == Settle(  # newer: still a duplicate
        State.SKIPPED, f"duplicate of r30, which is {state}")


@pytest.mark.parametrize("other", [
    make_run(3, state=State.RUNNING, date="d2"),  # other args
    make_run(3, "other", State.RUNNING, date="d1"),  # another job
    make_run(3, state=State.SUCCESS, date="d1"),  # finished, and not in check_states
    make_run(3, state=State.SCHEDULED, date="d1"),  # not in check_states
])
def test_anything_else_is_no_duplicate(other: Run) -> None:
    assert verdict(skip_duplicate(), other) is READY


def test_of_runs_waiting_together_the_oldest_goes_on() -> None:
    older, me, newer = (make_run(number, date="d1") for number in (3, 10, 12))
    assert verdict(skip_duplicate(), older, newer, me=me) == Settle(State.SKIPPED, "duplicate of r3, which is waiting")
    assert verdict(skip_duplicate(), me, newer, me=older) is READY


def test_the_run_itself_is_no_duplicate() -> None:
    me = make_run(10, state=State.WAITING, date="d1")
    assert verdict(skip_duplicate(), me, me=me) is READY


def test_finished_states_are_looked_for_in_the_history_and_the_target_may_be_error() -> None:
    condition = skip_duplicate(check_states=["failure", "error"], target_state="error")
    assert verdict(condition, make_run(3, state=State.FAILURE, date="d1")) == Settle(
        State.ERROR, "duplicate of r3, which is failure")
    assert verdict(condition, make_run(3, state=State.RUNNING, date="d1")) is READY
