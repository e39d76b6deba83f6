"""schedule: the named job's run made with written and inherited args, and the triggering run's log saying so."""
from __future__ import annotations

from fake_action_context import FakeContext, awaited, make_run

from apsisd.actions.registry import parse_action
from apsisd.actions.schedule import ScheduleAction
from apsisd.runs.state import FINISHED, State

PARAMS = {"publish": ("date", "region"), "archive": ()}


def schedule(**fields: object) -> ScheduleAction:
    parsed = parse_action({"type": "schedule", **fields})
    assert isinstance(parsed, ScheduleAction)
    return parsed


def test_without_if_it_fires_on_finished_states_only() -> None:
    assert schedule(job_id="publish").states == FINISHED
    assert schedule(job_id="publish", **{"if": {"states": "success"}}).states == {State.SUCCESS}


def test_written_args_are_rendered_with_the_triggering_runs_args_and_the_others_inherited() -> None:
    context = FakeContext(PARAMS)
    run = make_run(7, date="2026-03-02", region="uk")
    awaited(schedule(job_id="publish", args={"date": "{{ next_business_day(date, 'Mon-Fri') }}"})(run, context))
    assert context.scheduled == [("publish", {"date": "2026-03-03", "region": "uk"}, "r7")]
    assert context.notes == [("r7", "scheduled publish(date=2026-03-03, region=uk) as r101")]


def test_a_param_without_a_value_is_noted_and_nothing_is_scheduled() -> None:
    context = FakeContext(PARAMS)
    awaited(schedule(job_id="publish")(make_run(7, date="2026-03-02"), context))
    assert context.scheduled == []
    assert context.notes == [("r7", "schedule action: cannot schedule publish: args: no value for param 'region' of "
                                    "job publish: write it in args ({region: ...}), or give job job a param 'region' "
                                    "to pass on")]


def test_an_unknown_job_or_a_refusal_is_noted() -> None:
    context = FakeContext(PARAMS)
    awaited(schedule(job_id="{{ job_id }}-next")(make_run(7), context))
    context.refuse = "job archive is disabled"
    awaited(schedule(job_id="archive")(make_run(8), context))
    assert context.scheduled == []
    assert context.notes == [
        ("r7", "schedule action: cannot schedule {{ job_id }}-next: job_id: unknown job 'job-next'; no such job is "
               "loaded"),
        ("r8", "schedule action: cannot schedule archive: job archive is disabled"),
    ]
