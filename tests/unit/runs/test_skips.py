"""A skipped run's reason in its class: each reason apsis writes for a skip, made by the code that writes it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agentd.types import JobId, RunId
from apsisd.jobs.scheduling import CatchUp, Scheduling
from apsisd.runs.model import Run
from apsisd.runs.skips import SkipClass, by_operator, job_not_loaded, skip_class
from apsisd.runs.state import State
from apsisd.scheduler.plan import Missed, catch_up

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def skipped(reason: str, job_id: str = "j") -> Run:
    return Run(id=RunId("r1"), job_id=JobId(job_id), state=State.SKIPPED, schedule_time=NOW, reason=reason)


def test_every_reason_catch_up_skips_for_is_catchup() -> None:
    missed = [Missed(job_id=JobId("j"), time=NOW - timedelta(hours=hours), args={}) for hours in (9, 7, 3, 1)]
    since = NOW - timedelta(hours=8)
    policies = [Scheduling(horizon=1.0, max_scheduled=1, catchup=catchup, max_age=6 * 3600.0) for catchup in CatchUp]
    reasons = {verdict.reason for policy in policies for verdict in catch_up(missed, policy, NOW, since)
               if not verdict.start}
    assert len(reasons) == 4  # before --since, older than max_age, catchup is none, catchup is latest
    assert {skip_class(State.SCHEDULED, skipped(reason)) for reason in reasons} == {SkipClass.CATCHUP}
    assert skip_class(None, skipped(next(iter(reasons)))) is SkipClass.CATCHUP  # made skipped on a recovery


@pytest.mark.parametrize(("old", "run", "expected"), [
    (State.SCHEDULED, skipped(by_operator("uid 0 (pid 7) through the API")), SkipClass.OPERATOR),
    (State.WAITING, skipped(by_operator("uid 0 (pid 7) through the API")), SkipClass.OPERATOR),
    (State.SCHEDULED, skipped(job_not_loaded(JobId("etl/gone")), "etl/gone"), SkipClass.JOB_REMOVED),
    (State.SCHEDULED, skipped(job_not_loaded(JobId("etl/gone")), "other"), SkipClass.OTHER),
    # Whatever a condition says (skip_duplicate's words, or a plug-in's), it ends a waiting run.
    (State.WAITING, skipped("duplicate of r3, which is running"), SkipClass.CONDITION),
    (State.SCHEDULED, skipped("duplicate of r3, which is running"), SkipClass.OTHER),
])
def test_the_class_of_a_skip(old: State, run: Run, expected: SkipClass) -> None:
    assert skip_class(old, run) is expected
