"""max_running: runs starting, running or stopping count (this one never), by the same args, any args, or another
job's runs that share this run's args."""
from __future__ import annotations

import pytest
from fake_run_view import FakeJobs, FakeView, awaited, make_run

from apsisd.conditions.base import READY, Verdict, Wait
from apsisd.conditions.max_running import MaxRunning
from apsisd.conditions.registry import parse_condition
from apsisd.errors import InvalidFields
from apsisd.runs.model import Run
from apsisd.runs.state import State

JOBS = FakeJobs(job=("date", "region", "slots"), load=("date",), other=("region", "shard"))


def max_running(**fields: object) -> MaxRunning:
    parsed = parse_condition({"type": "max_running", **fields})
    assert isinstance(parsed, MaxRunning)
    return parsed


def run(number: int, state: State = State.WAITING, job_id: str = "job", date: str = "d1", region: str = "uk",
        **more: str) -> Run:
    return make_run(number, job_id, state, date=date, region=region, slots="2", **more)


def verdict(condition: MaxRunning, *others: Run, me: Run | None = None) -> Verdict:
    me = me or run(10)
    return awaited(condition.bind(me, JOBS, {}).check(me, FakeView(me, *others)))


def test_by_default_one_run_of_the_same_job_and_args_at_a_time() -> None:
    condition = max_running()
    assert condition.count == 1
    assert verdict(condition) is READY
    assert verdict(condition, run(1, State.RUNNING)) == Wait("no other run of job(date=d1, region=uk, slots=2) "
                                                             "starting, running or stopping")
    assert verdict(condition, run(1, State.RUNNING, region="fr")) is READY


@pytest.mark.parametrize(("state", "counts"), [
    (State.STARTING, True), (State.RUNNING, True),
    (State.STOPPING, True),  # it still holds what it runs on
    (State.SCHEDULED, False), (State.WAITING, False), (State.SUCCESS, False), (State.ERROR, False),
])
def test_a_run_counts_while_it_is_on_its_host(state: State, counts: bool) -> None:
    assert (verdict(max_running(), run(1, state)) is READY) is not counts


def test_the_run_itself_never_counts() -> None:
    me = run(10, State.RUNNING)  # as after a restart: checked again while starting
    assert verdict(max_running(), me=me) is READY


def test_count_may_be_a_template_rendered_with_the_runs_args() -> None:
    condition = max_running(count="{{ slots }}")
    assert verdict(condition, run(1, State.RUNNING)) is READY
    assert isinstance(verdict(condition, run(1, State.RUNNING), run(2, State.STOPPING)), Wait)


def test_args_any_counts_every_run_of_the_job() -> None:
    condition = max_running(count=2, args="any")
    assert verdict(condition, run(1, State.RUNNING, region="fr")) is READY
    assert verdict(condition, run(1, State.RUNNING, region="fr"), run(2, State.RUNNING, date="d2")) == Wait(
        "fewer than 2 other runs of job (any args) starting, running or stopping")


def test_another_jobs_runs_count_when_they_share_this_runs_args() -> None:
    condition = max_running(job_id="other")
    assert verdict(condition, run(1, State.RUNNING, "other", shard="a")) == Wait(
        "no other run of other(region=uk) starting, running or stopping")
    assert verdict(condition, run(1, State.RUNNING, "other", region="fr", shard="a")) is READY
    assert verdict(condition, run(1, State.RUNNING, "job")) is READY
    assert isinstance(verdict(max_running(job_id="other", args="any"),
                              run(1, State.RUNNING, "other", region="fr")), Wait)


@pytest.mark.parametrize(("fields", "problems"), [
    ({"job_id": "gone"}, [(("job_id",), "unknown job 'gone'; no such job is loaded")]),
    ({"count": "{{ region }}"}, [(("count",), "must be a whole number of runs, at least 1, not a string 'uk'")]),
    ({"count": "{{ slots }}", "job_id": "{{ nope }}"},
     [(("job_id",), "template: 'nope' is undefined")]),
])
def test_bind_problems(fields: dict, problems: list) -> None:
    with pytest.raises(InvalidFields) as caught:
        max_running(**fields).bind(run(10), JOBS, {})
    assert caught.value.problems == problems
