"""dependency: args written, inherited or missing; any run in the history counts, in the states asked for."""
from __future__ import annotations

import pytest
from fake_run_view import FakeJobs, FakeView, awaited, make_run

from apsisd.conditions.base import READY, Wait
from apsisd.conditions.dependency import Dependency
from apsisd.conditions.registry import parse_condition
from apsisd.errors import InvalidFields
from apsisd.runs.state import State

JOBS = FakeJobs(job=("date", "region"), load=("date", "region"), extract=("date",), clean=())


def dependency(**fields: object) -> Dependency:
    parsed = parse_condition({"type": "dependency", **fields})
    assert isinstance(parsed, Dependency)
    return parsed


def test_written_args_win_and_the_others_are_inherited_from_the_waiting_run() -> None:
    run = make_run(7, date="2026-03-02", region="uk")  # 2026-03-02 is a Monday
    bound = dependency(job_id="load", args={"date": "{{ prev_business_day(date, 'Mon-Fri') }}"}).bind(run, JOBS, {})
    assert (bound.job_id, dict(bound.args)) == ("load", {"date": "2026-02-27", "region": "uk"})
    assert bound.watches() == {"load"}
    assert bound.describe() == "dependency load(date=2026-02-27, region=uk) is success"


def test_the_job_id_may_be_a_template_and_the_args_are_cut_to_the_named_jobs_params() -> None:
    run = make_run(7, date="2026-03-02", region="uk")
    bound = dependency(job_id="{{ 'extract' }}", states=["success", "failure"]).bind(run, JOBS, {})
    assert (bound.job_id, dict(bound.args)) == ("extract", {"date": "2026-03-02"})
    assert bound.describe() == "dependency extract(date=2026-03-02) is success or failure"
    assert dependency(job_id="clean").bind(run, JOBS, {}).describe() == "dependency clean is success"


@pytest.mark.parametrize(("fields", "problems"), [
    ({"job_id": "load"}, [(("args",), "no value for param 'region' of job load: write it in args ({region: ...}), "
                                      "or give job extract a param 'region' to pass on")]),
    ({"job_id": "gone"}, [(("job_id",), "unknown job 'gone'; no such job is loaded")]),
    ({"job_id": "clean", "args": {"date": "{{ date }}"}},
     [(("args", "date"), "job clean has no param 'date'; its params: none")]),
    ({"job_id": "extract", "args": {"date": "{{ prev_business_day(date, 'nyse') }}"}},
     [(("args", "date"), "unknown calendar 'nyse'; use all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, "
                         "or a holiday calendar: none defined")]),
])
def test_bind_says_what_is_missing_and_how_to_give_it(fields: dict, problems: list) -> None:
    run = make_run(7, "extract", date="2026-03-02")
    with pytest.raises(InvalidFields) as caught:
        dependency(**fields).bind(run, JOBS, {})
    assert caught.value.problems == problems


def test_a_finished_run_in_the_history_satisfies_it_not_only_one_in_memory() -> None:
    run = make_run(9, date="2026-03-02", region="uk")
    bound = dependency(job_id="load").bind(run, JOBS, {})
    view = FakeView(run, make_run(1, "load", State.SUCCESS, date="2026-03-02", region="uk"))
    assert awaited(bound.check(run, view)) is READY


@pytest.mark.parametrize("other", [
    make_run(1, "load", State.FAILURE, date="2026-03-02", region="uk"),  # not in the states asked for
    make_run(1, "load", State.SUCCESS, date="2026-03-02", region="fr"),  # other args
    make_run(1, "load", State.SUCCESS, date="2026-03-02"),  # args are matched exactly
    make_run(1, "job", State.SUCCESS, date="2026-03-02", region="uk"),  # another job
])
def test_it_waits_while_no_run_matches(other: object) -> None:
    run = make_run(9, date="2026-03-02", region="uk")
    bound = dependency(job_id="load").bind(run, JOBS, {})
    assert awaited(bound.check(run, FakeView(run, other))) == Wait("dependency load(date=2026-03-02, region=uk) is "
                                                                   "success")


def test_states_name_what_counts() -> None:
    run = make_run(9, date="2026-03-02", region="uk")
    bound = dependency(job_id="load", states="running").bind(run, JOBS, {})
    view = FakeView(run, make_run(1, "load", State.RUNNING, date="2026-03-02", region="uk"))
    assert awaited(bound.check(run, view)) is READY
