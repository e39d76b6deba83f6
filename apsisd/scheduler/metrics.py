"""What GET /metrics tells: the runs as Prometheus counts them, in totals and, while few enough jobs are loaded,
per job.

Counters and histograms are fed by every change of a run (a Records
listener, so only changes already committed count); what is in flight is
read from the ledger at each scrape, never kept twice. prometheus_client
writes the exposition format and does the histogram arithmetic, in a
registry of our own: the process-wide default one would collect whatever
else the process imports.

Per-job series carry the label `job_id` (not `job`: Prometheus puts the
scrape job's name in `job` and would rename ours `exported_job`). They
exist only while at most `per_job_limit` jobs are loaded: a Prometheus
server holds a finite number of series, and each job adds up to some 60.
Over the limit only the totals are kept; the per-job counts start again
from 0 when the folder is back under it (a counter reset, which rate() is
made for). The series of a job no longer loaded go at the next scrape.
"""
from __future__ import annotations

import collections
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agentd.host import Host
from agentd.types import JobId
from apsisd.jobs.model import Job
from apsisd.jobs.retry import Reason, reason_class
from apsisd.runs.model import Origin, Run
from apsisd.runs.skips import SkipClass, skip_class
from apsisd.runs.state import State
from apsisd.scheduler.host_status import host_statuses
from apsisd.scheduler.ledger import Ledger

# From a timer firing on the dot (a few ms) to a run caught up after hours of downtime.
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                    3600.0)
# From `true` to a nightly batch.
DURATION_BUCKETS = (0.01, 0.1, 1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0,
                    86400.0)
IN_FLIGHT = [state for state in State if not state.finished]
ENDS = [state for state in State if state.finished]
M = TypeVar("M", Counter, Histogram)


class _Pair(Generic[M]):
    """A total and its per-job twin: `apsis_NAME` with `labels`, `apsis_job_NAME` with job_id before them."""

    def __init__(self, kind: type[M], name: str, doc: str, labels: tuple[str, ...], registry: CollectorRegistry,
                 **options: Any) -> None:
        self.total: M = kind(f"apsis_{name}", doc, labels, registry=registry, **options)
        self.per_job: M = kind(f"apsis_job_{name}", f"{doc}, per job", ("job_id", *labels), registry=registry,
                            **options)


class RunMetrics(Collector):
    """Counts the changes of runs (`observe`, a Records listener) and answers a scrape (`exposition`).

    `jobs` gives the jobs loaded now (a reload replaces them); `scheduling`
    whether the scheduler's loop runs.
    """

    def __init__(self, ledger: Ledger, jobs: Callable[[], Mapping[JobId, Job]], scheduling: Callable[[], bool],
                 per_job_limit: int, hosts: Callable[[], Mapping[str, Host]] = lambda: {}) -> None:
        self._ledger = ledger
        self._hosts = hosts
        self._jobs = jobs
        self._scheduling = scheduling
        self._limit = per_job_limit
        self._counted = CollectorRegistry()
        self._finished = _Pair(Counter, "runs_finished", "Runs that finished, by the state they ended in",
                               ("state",), self._counted)
        self._started = _Pair(Counter, "runs_started", "Runs whose program started", (), self._counted)
        self._failed = _Pair(Counter, "runs_failed", "Runs that ended in failure or error, by why: failure, "
                             "timeout, oom (failure states) or error", ("reason",), self._counted)
        self._retried = _Pair(Counter, "runs_retried", "Retries: runs the retry policy made after a failed attempt",
                              (), self._counted)
        self._skipped = _Pair(Counter, "runs_skipped", "Runs skipped, by why: operator, catchup, condition, "
                              "job_removed or other", ("reason",), self._counted)
        self._lateness = _Pair(Histogram, "run_lateness_seconds", "Seconds from a run's schedule time to its "
                               "program's start", (), self._counted, buckets=LATENESS_BUCKETS)
        self._duration = _Pair(Histogram, "run_duration_seconds", "Seconds from running to finished, of the runs "
                               "seen running", (), self._counted, buckets=DURATION_BUCKETS)
        for pair, values in ((self._finished, ENDS), (self._failed, Reason), (self._skipped, SkipClass)):
            for value in values:  # every total's series from the start, so that a rate is never of nothing
                pair.total.labels(value)
        self._series: dict[JobId, set[tuple[_Pair[Any], tuple[str, ...]]]] = {}  # each job's per-job series
        self.registry = CollectorRegistry()
        self.registry.register(self)
        ProcessCollector(registry=self.registry)

    def observe(self, old: Run | None, new: Run) -> None:
        """Count the change of a run from `old` (None: a new run) to `new`."""
        if old is None and new.origin is Origin.RETRY:
            self._inc(self._retried, new.job_id)
        if new.lateness is not None and (old is None or old.lateness is None):  # known once its program started
            self._inc(self._started, new.job_id)
            self._observe(self._lateness, new.job_id, new.lateness)
        if not new.finished or (old is not None and old.finished):
            return
        self._inc(self._finished, new.job_id, new.state)
        if new.state is State.SKIPPED:
            self._inc(self._skipped, new.job_id, skip_class(old.state if old else None, new))
        elif (why := reason_class(new)) is not None:
            self._inc(self._failed, new.job_id, why)
        running = new.times.get(State.RUNNING)
        if running is not None:
            self._observe(self._duration, new.job_id, (new.times[new.state] - running).total_seconds())

    def exposition(self) -> bytes:
        """Everything, in Prometheus's text format; the series of jobs that may no longer have any dropped first."""
        jobs = self._jobs()
        kept = jobs if self._per_job(jobs) else {}
        for job_id in [job_id for job_id in self._series if job_id not in kept]:
            for pair, labels in self._series.pop(job_id):
                pair.per_job.remove(job_id, *labels)
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        """The values read at scrape time, then the counted ones (prometheus_client calls this)."""
        jobs = self._jobs()
        per_job = self._per_job(jobs)
        yield GaugeMetricFamily("apsis_scheduling", "1 while the scheduler's loop runs, else 0",
                                value=int(self._scheduling()))
        yield GaugeMetricFamily("apsis_jobs", "Jobs loaded", value=len(jobs))
        yield GaugeMetricFamily("apsis_per_job_series", "1 while the apsis_job_ series are kept (no more jobs loaded "
                                "than [metrics] per_job_limit), else 0", value=int(per_job))
        runs = self._ledger.all()
        total = GaugeMetricFamily("apsis_runs_in_flight", "Runs not finished, by state", labels=["state"])
        by_state = collections.Counter(run.state for run in runs)
        for state in IN_FLIGHT:
            total.add_metric([state], by_state[state])
        yield total
        each = GaugeMetricFamily("apsis_job_runs_in_flight", "Runs not finished, by state, per job",
                                 labels=["job_id", "state"])
        if per_job:
            by_job = collections.Counter((run.job_id, run.state) for run in runs)
            for job_id in sorted(jobs):
                for state in IN_FLIGHT:
                    each.add_metric([job_id, state], by_job[job_id, state])
        yield each
        yield from self._host_metrics(runs)
        for metric in self._counted.collect():
            # A `_created` series beside each counter and histogram would double what a server stores, to say when
            # each began: rate() does not need it, and a restart shows as a counter reset anyway.
            metric.samples = [sample for sample in metric.samples if not sample.name.endswith("_created")]
            yield metric

    def _host_metrics(self, runs: list[Run]) -> Iterator[Metric]:
        """Per host: reachable or not, its clock's skew, its runs under way (scheduler/host_status.py)."""
        statuses = host_statuses(self._hosts(), runs)
        reachable = GaugeMetricFamily("apsis_host_reachable", "1 while the host is reachable, else 0", labels=["host"])
        skew = GaugeMetricFamily("apsis_host_clock_skew_seconds", "Seconds a remote host's clock is ahead of "
                                 "apsisd's, measured when linked", labels=["host"])
        under_way = GaugeMetricFamily("apsis_host_runs_under_way", "Runs starting, running or stopping, per host",
                                      labels=["host"])
        for status in statuses:
            reachable.add_metric([status.name], int(status.reachable))
            if status.clock_skew is not None:
                skew.add_metric([status.name], status.clock_skew)
            under_way.add_metric([status.name], status.runs_under_way)
        yield from (reachable, skew, under_way)

    def _per_job(self, jobs: Mapping[JobId, Job]) -> bool:
        return 0 < len(jobs) <= self._limit

    def _inc(self, pair: _Pair[Counter], job_id: JobId, *labels: str) -> None:
        for series in self._series_of(pair, job_id, labels):
            series.inc()

    def _observe(self, pair: _Pair[Histogram], job_id: JobId, value: float) -> None:
        for series in self._series_of(pair, job_id, ()):
            series.observe(value)

    def _series_of(self, pair: _Pair[M], job_id: JobId, labels: tuple[str, ...]) -> list[M]:
        """The total's series for `labels`, and the job's if it has series of its own."""
        found = [pair.total.labels(*labels) if labels else pair.total]
        jobs = self._jobs()
        if job_id in jobs and self._per_job(jobs):
            found.append(pair.per_job.labels(job_id, *labels))
            self._series.setdefault(job_id, set()).add((pair, labels))
        return found
