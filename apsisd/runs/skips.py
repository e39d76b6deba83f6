"""Why a run was skipped, in a few classes: the reasons are free text for people, the classes are what the metrics
count by.

The reasons apsis itself writes for a skip are made here, so their wording
and their class cannot drift apart: an operator's skip, a run missed while
apsisd was down (catch-up, max_age, --since), a run of a job no longer
loaded. A waiting run skipped otherwise was skipped by one of its
conditions (skip_duplicate, or a plug-in's), whatever its words.
"""
from __future__ import annotations

import enum

from agentd.types import JobId
from apsisd.runs.model import Run
from apsisd.runs.state import State

_OPERATOR = "skipped by "
_MISSED = "missed while apsisd was down; "


class SkipClass(enum.StrEnum):
    OPERATOR = "operator"  # skipped through the API
    CATCHUP = "catchup"  # missed while apsisd was down and not caught up (catchup, max_age, --since)
    CONDITION = "condition"  # a condition ended the waiting run (skip_duplicate)
    JOB_REMOVED = "job_removed"  # its job was no longer loaded when apsisd started
    OTHER = "other"


def by_operator(who: str) -> str:
    return f"{_OPERATOR}{who}"


def missed_reason(why: str) -> str:
    """A missed run's reason, whether it is caught up or skipped: 'missed while apsisd was down; `why`'."""
    return f"{_MISSED}{why}"


def job_not_loaded(job_id: JobId) -> str:
    return f"job {job_id} is no longer loaded"


def skip_class(old: State | None, run: Run) -> SkipClass:
    """The class of a skipped run's reason; `old` is the state it was skipped from (None: it was made skipped)."""
    if run.reason.startswith(_OPERATOR):
        return SkipClass.OPERATOR
    if run.reason.startswith(_MISSED):
        return SkipClass.CATCHUP
    if run.reason == job_not_loaded(run.job_id):
        return SkipClass.JOB_REMOVED
    if old is State.WAITING:  # only conditions and operators end a waiting run skipped
        return SkipClass.CONDITION
    return SkipClass.OTHER
