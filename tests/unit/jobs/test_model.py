"""Job.times(): every enabled schedule's runs merged in time order, args cut to the job's params; JobSet.select(),
in_folder(), job_of()."""
from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from agentd.types import JobId, RunId
from apsisd.jobs.model import Job, JobSet, Metadata, in_folder
from apsisd.jobs.program import Kind, Program
from apsisd.runs.model import Origin, Run
from apsisd.schedules.base import Context
from apsisd.schedules.registry import parse_schedule

PROGRAM = Program(kind=Kind.SHELL, command="true")
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday


def schedule(**keys: Any) -> Any:
    return parse_schedule(keys, Context())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_schedules_merge_in_time_order_with_only_the_params_as_args() -> None:
    job = Job(id="j", params=("date", "region"), program=PROGRAM, schedules=(
        schedule(type="interval", interval="8h", phase="1h", args={"region": "any", "unused": "x"}),
        schedule(type="daily", tz="Europe/London", daytime=["09:30", "17:00"], args={"region": "UK"}),
        schedule(type="interval", interval="1h", enabled=False, args={"region": "off"}),
    ))
    got = [(due.time, dict(due.args)) for due in itertools.islice(job.times(START), 7)]
    assert got == [
        (at("2026-03-02T01:00:00Z"), {"date": "2026-03-02", "region": "any"}),
        (at("2026-03-02T09:00:00Z"), {"date": "2026-03-02", "region": "any"}),
        (at("2026-03-02T09:30:00Z"), {"date": "2026-03-02", "region": "UK"}),
        (at("2026-03-02T17:00:00Z"), {"date": "2026-03-02", "region": "any"}),
        (at("2026-03-02T17:00:00Z"), {"date": "2026-03-02", "region": "UK"}),
        (at("2026-03-03T01:00:00Z"), {"date": "2026-03-03", "region": "any"}),
        (at("2026-03-03T09:00:00Z"), {"date": "2026-03-03", "region": "any"}),
    ]


def test_a_job_without_params_gets_no_args_and_keeps_stop_times() -> None:
    job = Job(id="j", program=PROGRAM, schedules=(
        schedule(start={"type": "daily", "tz": "UTC", "daytime": "09:00"}, stop="30m"),))
    first = next(job.times(START))
    assert (first.time, dict(first.args), first.stop) == (at("2026-03-02T09:00Z"), {}, at("2026-03-02T09:30Z"))


def test_finite_and_absent_schedules_end() -> None:
    assert list(Job(id="j", program=PROGRAM).times(START)) == []
    disabled = schedule(type="interval", interval="1h", enabled=False)
    assert list(Job(id="j", program=PROGRAM, schedules=(disabled,)).times(START)) == []
    explicit = schedule(type="explicit", times=["2026-03-01T00:00:00Z", "2026-03-03T00:00:00+01:00"])
    job = Job(id="j", params=("schedule_time",), program=PROGRAM, schedules=(explicit,))
    assert [(due.time, dict(due.args)) for due in job.times(START)] == [
        (at("2026-03-02T23:00Z"), {"schedule_time": "2026-03-02T23:00:00+00:00"})]


def test_due_between_is_times_cut_at_the_horizon() -> None:
    job = Job(id="j", params=("date", "region"), program=PROGRAM, schedules=(
        schedule(type="interval", interval="8h", phase="1h", args={"region": "any"}),
        schedule(type="daily", tz="Europe/London", daytime=["09:30", "17:00"], args={"region": "UK"}),
        schedule(type="cron", expr="0 17 * * *", tz="UTC", args={"region": "cron"}),
        schedule(type="interval", interval="1h", enabled=False, args={"region": "off"}),
    ))
    stop = at("2026-03-04T17:00:00Z")
    expected = list(itertools.takewhile(lambda due: due.time < stop, job.times(START)))
    got = job.due_between(START, stop)
    assert [(d.time, dict(d.args)) for d in got] == [(d.time, dict(d.args)) for d in expected]
    assert len(got) == 15
    # Equal instants keep the schedules' order, as times() does.
    at_five = [d.args["region"] for d in got if d.time == at("2026-03-02T17:00:00Z")]
    assert at_five == ["any", "UK", "cron"]
    assert job.due_between(START, START) == []


KINDS = [
    {"type": "interval", "interval": "7h", "phase": "5m"},
    {"type": "daily", "tz": "Europe/London", "daytime": ["00:30", "01:30"], "calendar": "Mon-Fri", "cal_shift": 1},
    {"type": "daily-interval", "tz": "America/New_York", "start": "01:00", "stop": "03:30", "interval": "20m"},
    {"type": "cron", "expr": "*/30 1-2 * * *", "tz": "Europe/London"},
    {"type": "explicit", "times": ["2026-03-29T00:30:00Z", "2026-03-29T02:00:00+02:00"]},
    {"start": {"type": "interval", "interval": "5h", "args": {"region": "eu"}}, "stop": "10m"},
]


@pytest.mark.parametrize("params", [(), ("time",), ("region", "schedule_time"), ("region",)])
@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: str(kind.get("type", "stop")))
def test_due_between_is_times_cut_for_every_kind_of_schedule(kind: dict[str, Any], params: tuple[str, ...]) -> None:
    given = kind if "type" not in kind else {**kind, "args": {"region": "eu"}}  # a stop schedule: its start's
    job = Job(id="j", params=params, program=PROGRAM, schedules=(schedule(**given),))
    begin, stop = at("2026-03-28T00:00Z"), at("2026-03-31T00:00Z")  # London's and Berlin's clocks change
    expected = [(due.time, dict(due.args), due.stop) for due in itertools.takewhile(
        lambda due: due.time < stop, job.times(begin))]
    for _ in range(2):  # asked again: the same
        got = job.due_between(begin, stop)
        assert [(due.time, dict(due.args), due.stop) for due in got] == expected
        assert all(list(due.args) == list(params) for due in got)  # in params order
    assert expected


def test_due_between_reads_a_missing_arg_as_the_schedule_does() -> None:
    job = Job(id="j", params=("nowhere",), program=PROGRAM, schedules=(schedule(type="interval", interval="1h"),))
    with pytest.raises(KeyError, match="nowhere"):
        job.due_between(START, at("2026-03-03T00:00Z"))


LABELLED = {"etl": ("etl",), "etl/load": ("etl", "nightly"), "etl/load/more": ("nightly",), "etl2/x": ("etl",),
            "etla": (), "reports/daily": ("nightly", "reports")}


@pytest.mark.parametrize(("path", "labels", "expected"), [
    (None, (), ["etl", "etl/load", "etl/load/more", "etl2/x", "etla", "reports/daily"]),
    ("", (), ["etl", "etl/load", "etl/load/more", "etl2/x", "etla", "reports/daily"]),
    ("/", (), ["etl", "etl/load", "etl/load/more", "etl2/x", "etla", "reports/daily"]),
    ("etl/", (), ["etl/load", "etl/load/more"]),
    ("etl", (), ["etl", "etl/load", "etl/load/more"]),
    ("etl/load", (), ["etl/load", "etl/load/more"]),
    ("etl/lo", (), []),
    (None, ("nightly",), ["etl/load", "etl/load/more", "reports/daily"]),
    (None, ("nightly", "etl"), ["etl/load"]),
    ("etl", ("etl",), ["etl", "etl/load"]),
    (None, ("nowhere",), []),
])
def test_select_by_path_and_labels(path: str | None, labels: tuple[str, ...], expected: list[str]) -> None:
    jobs = JobSet(jobs={JobId(job_id): Job(id=JobId(job_id), program=PROGRAM, metadata=Metadata(labels=labels))
                        for job_id, labels in reversed(LABELLED.items())}, calendars={})
    assert [job.id for job in jobs.select(path, labels)] == expected


@pytest.mark.parametrize(("path", "inside"), [
    (None, ["etl", "etl/load", "etl2"]), ("", ["etl", "etl/load", "etl2"]), ("/", ["etl", "etl/load", "etl2"]),
    ("etl", ["etl", "etl/load"]), ("etl/", ["etl/load"]), ("etl/load", ["etl/load"]),
])
def test_in_folder_is_a_path_never_a_text_prefix(path: str | None, inside: list[str]) -> None:
    assert [job_id for job_id in ("etl", "etl/load", "etl2") if in_folder(job_id, path)] == inside


def test_a_run_s_job_is_none_for_an_ad_hoc_run_even_when_a_job_has_its_name() -> None:
    jobs = JobSet(jobs={JobId("adhoc"): Job(id=JobId("adhoc"), program=PROGRAM)}, calendars={})
    of_job = Run(id=RunId("r1"), job_id=JobId("adhoc"), schedule_time=START, origin=Origin.MANUAL)
    assert jobs.job_of(of_job) is jobs.jobs[JobId("adhoc")]
    assert jobs.job_of(replace(of_job, origin=Origin.ADHOC)) is None
    assert jobs.job_of(replace(of_job, job_id=JobId("gone"))) is None
