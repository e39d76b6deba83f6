"""The runs page's filters: read from its URL, checked, turned into the store's query and written back as links."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from apsisd.jobs.model import JobSet
from apsisd.runs.state import State
from apsisd.web.run_filter import RunFilter, read

NO_JOBS = JobSet(jobs={}, calendars={})


def reading(url: str) -> RunFilter:
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    first: dict[str, str] = {}
    every: dict[str, list[str]] = {}
    for name, value in pairs:
        first.setdefault(name, value)
        every.setdefault(name, []).append(value)
    return read(first, every)


def test_empty_fields_are_no_filter() -> None:
    shown = reading("/runs?job=&path=&arg=&state=&since=&until=&label=&host=&origin=")
    assert shown == RunFilter()
    assert shown.problems == ()
    assert shown.url() == "/runs"


def test_every_filter_is_read_and_written_back_as_the_same_url() -> None:
    url = ("/runs?job=etl%2Fload&path=etl%2F&since=2026-12-01T00%3A00&until=2026-12-02T00%3A00%3A00%2B01%3A00"
           "&before=r90&arg=date%3D2026-12-01&arg=region%3Deu&state=failure&state=error&label=nightly"
           "&origin=adhoc&host=db1&order=time&limit=500")
    shown = reading(url)
    assert shown.problems == ()
    assert shown.args == ("date=2026-12-01", "region=eu")
    assert shown.states == ("failure", "error")
    assert reading(shown.url()) == shown
    assert shown.url() == url


def test_the_query_holds_each_filter() -> None:
    shown = reading("/runs?job=etl/load&arg=date=2026-12-01&state=failure&since=2026-12-01T09:30"
                    "&until=2026-12-01T10:00:00%2B01:00&before=r77&limit=50")
    query = shown.query(NO_JOBS)
    assert query is not None
    assert query.job_id == "etl/load"
    assert query.args == {"date": "2026-12-01"}
    assert query.states == frozenset({State.FAILURE})
    assert query.since == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # no offset: UTC, as the page says
    assert query.until == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert query.before == "r77" and query.limit == 50


def test_a_label_no_job_has_matches_no_run() -> None:
    query = reading("/runs?label=nowhere").query(NO_JOBS)
    assert query is not None and query.job_ids == frozenset()


@pytest.mark.parametrize(("url", "field"), [
    ("/runs?state=broken", "state"),
    ("/runs?origin=elsewhere", "origin"),
    ("/runs?arg=novalue", "arg"),
    ("/runs?since=yesterday", "since"),
    ("/runs?until=2026-13-01", "until"),
    ("/runs?order=random", "order"),
    ("/runs?before=123", "before"),
    ("/runs?limit=100000", "limit"),
])
def test_a_value_that_cannot_be_used_is_said_and_lists_nothing(url: str, field: str) -> None:
    shown = reading(url)
    assert len(shown.problems) == 1 and shown.problems[0].startswith(f"{field}: ")
    assert shown.query(NO_JOBS) is None


def test_a_value_given_twice_counts_once() -> None:
    assert reading("/runs?state=failure&state=failure").states == ("failure",)


def test_origins_hosts_and_the_order_reach_the_query() -> None:
    query = reading("/runs?origin=adhoc&origin=rerun&host=db1&order=time").query(NO_JOBS)
    assert query is not None
    assert query.origins == frozenset({"adhoc", "rerun"}) and query.hosts == frozenset({"db1"})
    assert query.order == "time"


def test_a_time_range_is_shown_by_schedule_time() -> None:
    assert reading("/runs?since=2026-12-01T00:00").order == "time"
    assert reading("/runs?until=2026-12-01T00:00&order=id").order == "time"
    assert reading("/runs?order=id").order == "id" and reading("/runs").order == "id"
