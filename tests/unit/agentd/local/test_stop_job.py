"""Which of a unit's jobs may be a stop: the job that started the run never is (following.py)."""
from __future__ import annotations

from typing import Any

import pytest

from agentd.local.following import note_start_job, stop_job_candidate
from agentd.local.tracker import Tracker
from agentd.types import RunId

START, STOP = (61, "/org/freedesktop/systemd1/job/61"), (70, "/org/freedesktop/systemd1/job/70")
NO_JOB = (0, "/")


def seen(tracker: Tracker, state: str, job: tuple[int, str]) -> str | None:
    """A PropertiesChanged of the unit, as on_signal takes it in: the candidate it yields."""
    tracker.props.update({"ActiveState": state, "Job": job})
    note_start_job(tracker)
    return stop_job_candidate(tracker)


def test_a_short_program_ending_with_its_start_job_queued_is_no_stop() -> None:
    """What systemd 252 sends for /bin/true: activating and deactivating, the start job queued in both."""
    tracker = Tracker(RunId("r1"))
    assert seen(tracker, "inactive", START) is None
    assert seen(tracker, "activating", START) is None
    assert seen(tracker, "deactivating", START) is None
    assert seen(tracker, "inactive", NO_JOB) is None


def test_the_start_call_names_the_job_when_the_first_signal_is_already_the_end() -> None:
    """Signals can come merged: the first one may say deactivating; the start call's reply named the job."""
    tracker = Tracker(RunId("r1"))
    tracker.start_job = START[1]
    assert seen(tracker, "deactivating", START) is None


def test_a_job_on_a_running_unit_other_than_its_start_job_may_be_a_stop() -> None:
    tracker = Tracker(RunId("r1"))
    seen(tracker, "activating", START)
    assert seen(tracker, "active", NO_JOB) is None
    assert seen(tracker, "active", STOP) == STOP[1]
    assert seen(tracker, "deactivating", STOP) == STOP[1]


@pytest.mark.parametrize("state", ["active", "deactivating"])
def test_an_unknown_job_on_a_running_unit_is_looked_at(state: str) -> None:
    """A run found again (attached) whose start job was never seen: its job is asked about, not assumed."""
    tracker = Tracker(RunId("r1"))
    assert seen(tracker, state, START) == START[1]
    assert tracker.start_job is None


def test_a_job_on_a_unit_not_running_is_never_a_stop_to_look_at() -> None:
    tracker = Tracker(RunId("r1"))
    props: dict[str, Any] = {"ActiveState": "failed", "Job": STOP}
    tracker.props.update(props)
    assert stop_job_candidate(tracker) is None
