"""retry: which finished runs are tried again (reason_class, `on`) and after how long (next_attempt_delay)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agentd.types import JobId, RunId
from apsisd.errors import InvalidFields
from apsisd.jobs.retry import MAX_DELAY, RETRIED, Reason, Retry, next_attempt_delay, parse_retry, reason_class
from apsisd.runs.model import Run
from apsisd.runs.state import State


def finished(state: State, result: str | None = None) -> Run:
    return Run(id=RunId("r1"), job_id=JobId("job"), state=state, result=result,
               schedule_time=datetime(2026, 3, 2, tzinfo=UTC))


@pytest.mark.parametrize(("state", "result", "reason"), [
    (State.ERROR, None, Reason.ERROR),
    (State.ERROR, "timeout", Reason.ERROR),  # apsis's own error, whatever systemd said
    (State.FAILURE, "timeout", Reason.TIMEOUT),
    (State.FAILURE, "oom-kill", Reason.OOM),
    (State.FAILURE, "exit-code", Reason.FAILURE),
    (State.FAILURE, "signal", Reason.FAILURE),
    (State.FAILURE, None, Reason.FAILURE),
    (State.SUCCESS, "success", None),
    (State.SKIPPED, None, None),
    (State.RUNNING, None, None),
])
def test_reason_class(state: State, result: str | None, reason: Reason | None) -> None:
    assert reason_class(finished(state, result)) == reason


def test_count_retries_after_the_first_attempt_each_waiting_longer_up_to_max_delay() -> None:
    retry = Retry(count=4, delay=10.0, backoff=2.0, max_delay=50.0)
    assert [next_attempt_delay(retry, attempt) for attempt in range(1, 7)] == [10.0, 20.0, 40.0, 50.0, None, None]


def test_without_backoff_every_retry_waits_delay() -> None:
    retry = Retry(count=2, delay=5.0)
    assert [next_attempt_delay(retry, attempt) for attempt in (1, 2, 3)] == [5.0, 5.0, None]


def test_a_backoff_that_outgrows_a_float_is_cut_to_a_year() -> None:
    retry = Retry(count=1000, delay=1.0, backoff=1000.0)
    assert next_attempt_delay(retry, 999) == MAX_DELAY
    assert next_attempt_delay(Retry(count=1000, delay=1.0, backoff=1000.0, max_delay=60.0), 999) == 60.0


def test_parse_defaults_and_spellings() -> None:
    assert parse_retry({"count": 2}) == Retry(count=2, delay=0.0, backoff=1.0, max_delay=None, on=RETRIED)
    assert RETRIED == {Reason.FAILURE, Reason.TIMEOUT, Reason.OOM}  # error only when asked
    assert parse_retry({"count": 1, "delay": "1m", "backoff": 1.5, "max_delay": "1h", "on": "error"}) == Retry(
        count=1, delay=60.0, backoff=1.5, max_delay=3600.0, on=frozenset({Reason.ERROR}))


def test_on_must_name_a_reason() -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_retry({"count": 1, "on": []})
    assert caught.value.problems == [(("on",), "must name at least one of failure, timeout, oom, error (to never "
                                               "retry, remove retry:)")]
