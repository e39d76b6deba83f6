"""Benchmark: load and check 100,000 job files, then expand every run due in the next 24 hours.

    .venv/bin/python bench/jobs.py [--jobs 100000] [--keep]

Writes the job files into a temporary folder (a realistic mix of every
schedule type, params, templates, program fields, conditions and a holiday
calendar), times (a) load_jobs() on the folder and (b) Job.due_between() for every
job up to 24 hours from a fixed instant, prints a table against the targets
(load < 10 s, expansion < 5 s) and removes the folder.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from apsisd.jobs.load import load_jobs
from apsisd.jobs.model import Job

T = TypeVar("T")

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday: weekday calendars give runs
HORIZON = timedelta(hours=24)
TARGETS = {"load + validate": 10.0, "24-hour expansion": 5.0}
ZONES = ["Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "UTC", "Europe/Berlin"]
CALENDAR = "holidays:\n" + "".join(f"  - 2026-{month:02d}-{day:02d}\n" for month, day in
                                  [(1, 1), (4, 3), (4, 6), (5, 4), (5, 25), (8, 31), (12, 25), (12, 28)])


def schedule(kind: str, rng: random.Random) -> str:
    """One schedule of `kind`, in YAML, giving `region` through its args."""
    zone = rng.choice(ZONES)
    if kind == "daily":
        times = ", ".join(f"'{rng.randrange(24):02d}:{rng.choice([0, 15, 30, 45]):02d}'"
                          for _ in range(rng.choice([1, 1, 2])))
        calendar = rng.choice(["all", "Mon-Fri", "Mon-Fri", "bank"])
        return f"{{type: daily, tz: {zone}, daytime: [{times}], calendar: {calendar}, args: {{region: eu}}}}"
    if kind == "interval":
        interval = rng.choice(["5m", "10m", "15m", "30m", "1h", "2h", "6h", "12h", "1d"])
        return f"{{type: interval, interval: {interval}, phase: {rng.randrange(60)}s, args: {{region: eu}}}}"
    if kind == "cron":
        expr = rng.choice(["0 * * * *", "*/15 9-17 * * Mon-Fri", f"{rng.randrange(60)} {rng.randrange(24)} * * *",
                           "30 6 * * 1-5", "@daily", "0 */4 * * *"])
        return f"{{type: cron, expr: '{expr}', tz: {zone}, args: {{region: eu}}}}"
    if kind == "on-calendar":
        expr = rng.choice(["Mon..Fri *-*-* 09:30", "*-*-* 00/2:00", "*:0/20", "*-*-01 06:00", "Sat,Sun 10:00",
                           "hourly"])
        return f"{{type: on-calendar, expr: '{expr}', tz: {zone}, args: {{region: eu}}}}"
    if kind == "daily-interval":
        interval = rng.choice(["15m", "30m", "1h"])
        return (f"{{type: daily-interval, tz: {zone}, start: '08:00', stop: '18:00', interval: {interval}, "
                f"calendar: Mon-Fri, args: {{region: eu}}}}")
    moments = ", ".join(f"'{(START + timedelta(hours=rng.randrange(72))).isoformat()}'" for _ in range(3))
    return f"{{type: explicit, times: [{moments}], args: {{region: eu}}}}"


KINDS = ["daily"] * 25 + ["interval"] * 20 + ["cron"] * 20 + ["on-calendar"] * 15 + ["daily-interval"] * 10 + \
    ["explicit"] * 10


def job_text(index: int, rng: random.Random) -> str:
    """One job: a schedule (every tenth job two), params, a templated command for every third job."""
    kinds = [rng.choice(KINDS) for _ in range(2 if index % 10 == 0 else 1)]
    dated = "explicit" not in kinds  # explicit schedules give no `date`
    command = (f"/opt/etl/run --date {{{{ date }}}} --region {{{{ region }}}} --job {index}" if dated and index % 3 == 0
               else f"/opt/etl/run --job {index} --mode batch")
    lines = [
        f"# job {index}: {', '.join(kinds)}",
        "metadata:",
        f"  description: Job {index}, a generated {kinds[0]} job.",
        f"  labels: [bench, {kinds[0]}]",
        "params: [date, region]" if dated else "params: [region]",
        "schedule:",
        *(f"  - {schedule(kind, rng)}" for kind in kinds),
    ]
    lines += [
        "program:",
        "  type: shell",
        f"  command: {command!r}",
        f"  timeout: {rng.choice(['15m', '1h', '2h'])}",
        "  limits: {memory: 512M, nice: 5}",
    ]
    if index % 5 == 0:
        lines += ["condition:", "  - {type: max_running, count: 1}"]
    return "\n".join(lines) + "\n"


def write_folder(folder: Path, count: int) -> None:
    rng = random.Random(20260302)
    (folder / "bank.calendar.yaml").write_text(CALENDAR)
    per_folder = 1000
    for index in range(count):
        sub = folder / f"team{index // per_folder:03d}"
        if index % per_folder == 0:
            sub.mkdir()
        (sub / f"job{index:06d}.yaml").write_text(job_text(index, rng))


def expand(jobs: Mapping[Any, Job], start: datetime, stop: datetime) -> int:
    """How many runs every job has due in [start, stop)."""
    return sum(len(job.due_between(start, stop)) for job in jobs.values())


def timed(work: Callable[[], T]) -> tuple[T, float, float, float]:
    """work()'s result, wall seconds, CPU seconds of this process and of its helper processes (loading a large
    folder reads files in helpers): on a shared machine wall and CPU differ."""
    wall, cpu, helpers = time.perf_counter(), time.process_time(), _children_cpu()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu, _children_cpu() - helpers


def _children_cpu() -> float:
    """CPU seconds of the child processes that have ended (helpers are waited for before load_jobs returns)."""
    times = os.times()
    return times.children_user + times.children_system


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="how many job files (default 100,000)")
    parser.add_argument("--keep", action="store_true", help="keep the folder and print its path")
    parser.add_argument("--by-type", action="store_true", help="also time the expansion of each schedule type")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="apsis-bench-jobs-"))
    try:
        _, written, _, _ = timed(lambda: write_folder(folder, options.jobs))
        job_set, load_wall, load_cpu, load_helpers = timed(lambda: load_jobs(folder))
        runs, expand_wall, expand_cpu, expand_helpers = timed(lambda: expand(dict(job_set.jobs), START,
                                                                             START + HORIZON))
    finally:
        if options.keep:
            print(f"folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    schedules = sum(len(job.schedules) for job in job_set.jobs.values())
    print(f"{len(job_set.jobs):,} jobs, {schedules:,} schedules, {len(job_set.calendars)} calendar "
          f"(files written in {written:.1f} s); {runs:,} runs due in the 24 hours from {START.isoformat()}; "
          f"{os.cpu_count()} CPUs\n")
    scale = 100_000 / options.jobs
    print("| step | wall s | CPU s | helpers' CPU s | target (100,000 jobs, wall) | verdict |")
    print("| --- | --- | --- | --- | --- | --- |")
    for step, wall, cpu, helpers in (("load + validate", load_wall, load_cpu, load_helpers),
                                     ("24-hour expansion", expand_wall, expand_cpu, expand_helpers)):
        verdict = "met" if wall * scale < TARGETS[step] else "missed"
        print(f"| {step} | {wall:.2f} | {cpu:.2f} | {helpers:.2f} | < {TARGETS[step]:.0f} s | {verdict} |")
    if options.by_type:
        by_type(job_set.jobs.values())
    return 0


def by_type(jobs: Iterable[Job]) -> None:
    """The 24-hour expansion of each schedule type alone (CPU time), to show where it goes."""
    table: dict[str, list[float]] = {}
    for job in jobs:
        for schedule in job.schedules:
            name = schedule.type_name
            began, count = time.process_time(), 0
            for due in schedule.times(START):
                if due.time >= START + HORIZON:
                    break
                count += 1
            row = table.setdefault(name, [0, 0, 0.0])
            row[0] += 1
            row[1] += count
            row[2] += time.process_time() - began
    print("\n| schedule type | schedules | runs | CPU s | µs per schedule | µs per run |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (schedules, runs, cpu) in sorted(table.items()):
        print(f"| {name} | {schedules:,.0f} | {runs:,.0f} | {cpu:.2f} | {cpu / schedules * 1e6:.0f} | "
              f"{cpu / max(runs, 1) * 1e6:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
