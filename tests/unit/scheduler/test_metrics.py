"""RunMetrics: changes of runs fed as Records announces them, the exposition parsed back with prometheus_client's own
parser; every count exact."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from agentd.types import JobId, RunId
from apsisd.jobs.model import Job
from apsisd.jobs.parse import JobParser
from apsisd.runs.model import Origin, Run, transition
from apsisd.runs.skips import SkipClass, by_operator, job_not_loaded, missed_reason
from apsisd.runs.state import State
from apsisd.scheduler.ledger import Ledger
from apsisd.scheduler.metrics import RunMetrics

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def job(job_id: str) -> Job:
    return JobParser({}, [job_id]).parse(job_id, yaml.safe_load('program: "true"\n'))


class Feed:
    """What Records does for the metrics: each change put in the ledger, then announced (old, new)."""

    def __init__(self, *job_ids: str, limit: int = 100) -> None:
        self.ledger = Ledger()
        self.jobs = {JobId(job_id): job(job_id) for job_id in job_ids}
        self.scheduling = True
        self.metrics = RunMetrics(self.ledger, lambda: self.jobs, lambda: self.scheduling, limit)
        self.numbers = iter(range(1, 1000))

    def new(self, job_id: str = "a", state: State = State.SCHEDULED, origin: Origin = Origin.SCHEDULE,
            reason: str = "scheduled by the job's schedule") -> Run:
        run = Run(id=RunId(f"r{next(self.numbers)}"), job_id=JobId(job_id), state=state, schedule_time=T0,
                  times={state: T0}, origin=origin, reason=reason)
        self.ledger.put(run)
        self.metrics.observe(None, run)
        return run

    def move(self, run: Run, state: State, seconds: float = 0.0, reason: str = "", **changes: Any) -> Run:
        new, _ = transition(run, state, T0 + timedelta(seconds=seconds), reason, **changes)
        self.ledger.put(new)
        self.metrics.observe(run, new)
        return new

    def ran(self, job_id: str, end: State, lateness: float, duration: float, **changes: Any) -> Run:
        """A run through starting and running (started `lateness` s late) to `end`, `duration` s later."""
        run = self.move(self.new(job_id), State.STARTING)
        run = self.move(run, State.RUNNING, lateness, lateness=lateness)
        return self.move(run, end, lateness + duration, **changes)

    def scrape(self) -> dict[str, float]:
        """Every sample as 'name{label="value",...}' -> value, labels sorted."""
        text = self.metrics.exposition().decode()
        return {_key(sample.name, sample.labels): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}


def _key(name: str, labels: dict[str, str]) -> str:
    inside = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inside}}}" if inside else name


def family(samples: dict[str, float], name: str) -> dict[str, float]:
    """The samples of one name (the part in braces -> value)."""
    return {key[len(name):]: value for key, value in samples.items()
            if key == name or key.startswith(name + "{")}


def test_runs_are_counted_by_how_they_end() -> None:
    feed = Feed("a", "b")
    feed.ran("a", State.SUCCESS, 0.003, 2.5)
    feed.ran("a", State.FAILURE, 0.2, 45.0, exit_code=1, result="exit-code")
    feed.ran("b", State.FAILURE, 7.0, 600.0, result="timeout")
    feed.move(feed.move(feed.new("b"), State.STARTING), State.ERROR, reason="refused by the host")
    # Ended before it was seen running: it started (it has a lateness), but its duration is not known.
    feed.move(feed.move(feed.new("b"), State.STARTING), State.SUCCESS, 0.01, lateness=0.0004)
    feed.new("a", origin=Origin.RETRY, reason="retry 1 of r2 (failure), in 30 s")
    samples = feed.scrape()
    assert family(samples, "apsis_runs_finished_total") == {
        '{state="success"}': 2, '{state="failure"}': 2, '{state="error"}': 1, '{state="skipped"}': 0}
    assert family(samples, "apsis_runs_started_total") == {"": 4}
    assert family(samples, "apsis_runs_failed_total") == {'{reason="failure"}': 1, '{reason="timeout"}': 1,
                                                          '{reason="oom"}': 0, '{reason="error"}': 1}
    assert family(samples, "apsis_runs_retried_total") == {"": 1}
    # The totals' series are all there from the start, zeros included; the jobs' only once they count something.
    assert family(samples, "apsis_runs_skipped_total") == {f'{{reason="{why}"}}': 0 for why in SkipClass}
    assert family(samples, "apsis_job_runs_skipped_total") == {}
    lateness = family(samples, "apsis_run_lateness_seconds_bucket")
    assert (lateness['{le="0.001"}'], lateness['{le="0.005"}'], lateness['{le="0.25"}'], lateness['{le="10.0"}'],
            lateness['{le="+Inf"}']) == (1, 2, 3, 4, 4)
    assert samples["apsis_run_lateness_seconds_count"] == 4
    assert abs(samples["apsis_run_lateness_seconds_sum"] - 7.2034) < 1e-9
    duration = family(samples, "apsis_run_duration_seconds_bucket")
    assert (duration['{le="1.0"}'], duration['{le="10.0"}'], duration['{le="60.0"}'], duration['{le="900.0"}'],
            duration['{le="+Inf"}']) == (0, 1, 2, 3, 3)
    assert (samples["apsis_run_duration_seconds_count"], samples["apsis_run_duration_seconds_sum"]) == (3, 647.5)
    # Per job, the same counts split: job_id, never `job` (the label Prometheus gives the scrape job's name).
    assert family(samples, "apsis_job_runs_finished_total") == {
        '{job_id="a",state="success"}': 1, '{job_id="a",state="failure"}': 1, '{job_id="b",state="failure"}': 1,
        '{job_id="b",state="error"}': 1, '{job_id="b",state="success"}': 1}
    assert family(samples, "apsis_job_runs_started_total") == {'{job_id="a"}': 2, '{job_id="b"}': 2}
    assert family(samples, "apsis_job_runs_retried_total") == {'{job_id="a"}': 1}
    assert (samples['apsis_job_run_duration_seconds_count{job_id="a"}'],
            samples['apsis_job_run_duration_seconds_count{job_id="b"}']) == (2, 1)
    assert not [key for key in samples if key.endswith("_created") or "_created{" in key]


def test_skips_are_counted_by_the_class_of_their_reason() -> None:
    feed = Feed("a")
    feed.move(feed.new(), State.SKIPPED, reason=by_operator("uid 0 (pid 7) through the API"))
    feed.new(state=State.SKIPPED, reason=missed_reason("catchup is none"))  # made skipped by a recovery
    feed.move(feed.new(), State.SKIPPED, reason=missed_reason("older than max_age (600 s)"))
    feed.move(feed.move(feed.new(), State.WAITING), State.SKIPPED, reason="duplicate of r1, which is running")
    feed.move(feed.new("gone"), State.SKIPPED, reason=job_not_loaded(JobId("gone")))
    feed.move(feed.new(), State.SKIPPED, reason="a plug-in's own reason")
    samples = feed.scrape()
    assert family(samples, "apsis_runs_skipped_total") == {
        '{reason="operator"}': 1, '{reason="catchup"}': 2, '{reason="condition"}': 1, '{reason="job_removed"}': 1,
        '{reason="other"}': 1}
    assert family(samples, "apsis_runs_finished_total") == {
        '{state="success"}': 0, '{state="failure"}': 0, '{state="error"}': 0, '{state="skipped"}': 6}
    assert family(samples, "apsis_runs_started_total") == {"": 0}
    # A job no longer loaded has no series of its own.
    assert family(samples, "apsis_job_runs_skipped_total") == {
        '{job_id="a",reason="operator"}': 1, '{job_id="a",reason="catchup"}': 2, '{job_id="a",reason="condition"}': 1,
        '{job_id="a",reason="other"}': 1}


def test_runs_in_flight_are_read_from_the_ledger_at_each_scrape() -> None:
    feed = Feed("a", "b")
    feed.new("a")
    feed.new("a")
    waiting = feed.move(feed.new("b"), State.WAITING)
    running = feed.move(feed.move(feed.new("b"), State.STARTING), State.RUNNING, 0.1, lateness=0.1)
    samples = feed.scrape()
    assert family(samples, "apsis_runs_in_flight") == {
        '{state="new"}': 0, '{state="scheduled"}': 2, '{state="waiting"}': 1, '{state="starting"}': 0,
        '{state="running"}': 1, '{state="stopping"}': 0}
    assert samples['apsis_job_runs_in_flight{job_id="a",state="scheduled"}'] == 2
    assert samples['apsis_job_runs_in_flight{job_id="b",state="running"}'] == 1
    assert len(family(samples, "apsis_job_runs_in_flight")) == 12  # every state of every job, zeros too
    assert (samples["apsis_jobs"], samples["apsis_scheduling"], samples["apsis_per_job_series"]) == (2, 1, 1)
    feed.move(running, State.SUCCESS, 3)
    feed.move(waiting, State.SKIPPED, 3, reason=by_operator("uid 0"))
    feed.scheduling = False
    samples = feed.scrape()
    assert (samples['apsis_runs_in_flight{state="running"}'], samples['apsis_runs_in_flight{state="waiting"}'],
            samples["apsis_scheduling"]) == (0, 0, 0)
    assert samples["process_resident_memory_bytes"] > 0  # the process collector, in our own registry


def test_per_job_series_only_while_few_enough_jobs_are_loaded() -> None:
    feed = Feed("a", "b", limit=1)
    feed.ran("a", State.SUCCESS, 0.01, 1)
    samples = feed.scrape()
    assert (samples["apsis_runs_started_total"], samples["apsis_per_job_series"]) == (1, 0)
    assert not [key for key in samples if key.startswith("apsis_job_")]
    # Back under the limit: the jobs' counts start from there (what came before, scraped or not, is not theirs).
    feed.ran("a", State.SUCCESS, 0.01, 1)
    del feed.jobs[JobId("b")]
    feed.ran("a", State.SUCCESS, 0.01, 1)
    samples = feed.scrape()
    assert (samples["apsis_runs_started_total"], samples['apsis_job_runs_started_total{job_id="a"}'],
            samples["apsis_per_job_series"]) == (3, 1, 1)
    # A job removed loses its series at the next scrape, and a job over the limit gets none.
    feed.jobs = {JobId("c"): job("c")}
    feed.ran("c", State.FAILURE, 0.01, 1)
    samples = feed.scrape()
    assert family(samples, "apsis_job_runs_started_total") == {'{job_id="c"}': 1}
    assert family(samples, "apsis_job_runs_finished_total") == {'{job_id="c",state="failure"}': 1}
    assert set(family(samples, "apsis_job_runs_in_flight")) == {
        f'{{job_id="c",state="{state}"}}' for state in State if not state.finished}
    assert samples['apsis_runs_finished_total{state="success"}'] == 3  # the totals keep everything


def test_a_limit_of_zero_keeps_only_the_totals() -> None:
    feed = Feed("a", limit=0)
    feed.ran("a", State.SUCCESS, 0.01, 1)
    samples = feed.scrape()
    assert (samples["apsis_runs_started_total"], samples["apsis_per_job_series"]) == (1, 0)
    assert not [key for key in samples if key.startswith("apsis_job_")]


def test_a_change_without_a_new_state_counts_nothing_twice() -> None:
    feed = Feed("a")
    run = feed.ran("a", State.SUCCESS, 0.01, 1)
    feed.metrics.observe(run, replace(run, memory_peak=1024))  # a late fact about a finished run
    running = feed.move(feed.move(feed.new(), State.STARTING), State.RUNNING, 1, lateness=1.0)
    feed.metrics.observe(running, replace(running, unit="apsis-r9.service"))
    samples = feed.scrape()
    assert (samples["apsis_runs_started_total"], samples['apsis_runs_finished_total{state="success"}'],
            samples["apsis_run_lateness_seconds_count"]) == (2, 1, 2)

