"""Benchmark: the SQLite store with 10,000 jobs' history of 1,000,000 finished runs and 20,000 unfinished ones.

    .venv/bin/python bench/store.py [--jobs 10000] [--runs 1000000] [--unfinished 20000] [--keep]

Creates the schema through SqliteStore.open, fills it in bulk with rows made
by the store's own codec (each run with its four log lines), then, in a fresh
process so its memory is the store's alone: open time, unfinished() time, RSS,
a job's last 100 runs over 200 random jobs, other filters, and commits per
second, grouped (a burst of runs each committing its transitions at once) and
ungrouped (one commit awaited at a time, each its own transaction), against
the floor of plain sqlite3 transactions. The database lives in
.bench-tmp/store-<random>/ under the checkout and is removed afterwards.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentd.spec import RunSpec
from agentd.types import JobId
from apsisd.runs.model import LogEntry, Run, run_id, transition
from apsisd.runs.state import State
from apsisd.store import codec
from apsisd.store.base import Changes, RunQuery
from apsisd.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2024, 1, 1, tzinfo=UTC)
INSERT_RUN = f"INSERT INTO runs ({', '.join(codec.RUN_COLUMNS)}) VALUES ({', '.join('?' * len(codec.RUN_COLUMNS))})"
INSERT_LOG = f"INSERT INTO run_log ({', '.join(codec.LOG_COLUMNS)}) VALUES (?, ?, ?, ?)"
FINAL = [State.SUCCESS] * 190 + [State.FAILURE] * 6 + [State.ERROR] * 3 + [State.SKIPPED]
PENDING = [State.SCHEDULED] * 90 + [State.WAITING] * 5 + [State.RUNNING] * 5


def job_name(j: int) -> JobId:
    return JobId(f"team{j % 40}/area{j % 7}/job{j}")


def spec_for(number: int, job: JobId) -> RunSpec:
    return RunSpec(run_id=run_id(number), job_id=job, argv=("/usr/local/bin/etl", "--date", "2024-01-01"),
                   env={"MODE": "batch", "REGION": "eu"}, user="etl", timeout=3600.0, memory_max=2 << 30)


def make_run(number: int, job: JobId, day: int, state: State) -> tuple[Run, list[LogEntry]]:
    """A run as the scheduler leaves it: its transitions through transition(), so rows and logs are realistic."""
    due = START + timedelta(days=day, seconds=number % 86400)
    run = Run(id=run_id(number), job_id=job, args={"date": due.date().isoformat(), "region": "eu"},
              schedule_time=due, times={State.NEW: due - timedelta(days=1)})
    path = {State.SCHEDULED: [State.SCHEDULED], State.WAITING: [State.SCHEDULED, State.WAITING],
            State.RUNNING: [State.SCHEDULED, State.STARTING, State.RUNNING],
            State.SKIPPED: [State.SCHEDULED, State.SKIPPED]}.get(state, [State.SCHEDULED, State.STARTING,
                                                                         State.RUNNING, state])
    log = []
    for i, step in enumerate(path):
        extra: dict[str, Any] = {}
        if step is State.STARTING:
            extra = {"spec": spec_for(number, job), "unit": f"apsis-{run.id}.service", "lateness": 0.012}
        elif step.finished and step is not State.SKIPPED:
            extra = {"exit_code": 0 if step is State.SUCCESS else 1, "result": "success" if step is State.SUCCESS
                     else "exit-code", "cpu_time_ns": 1_234_567_890, "memory_peak": 52_428_800}
        run, entry = transition(run, step, due + timedelta(seconds=i * 30), f"{step} (bench)", **extra)
        log.append(entry)
    return run, log


def fill(db: Path, jobs: int, runs: int, unfinished: int) -> None:
    """Schema through the store, then rows through the codec in big transactions (the store's own path is per run)."""
    asyncio.run(_create(db))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    per_job = runs // jobs
    number = 0

    def finished() -> Iterator[tuple[Run, list[LogEntry]]]:
        nonlocal number
        rng = random.Random(1)
        for day in range(per_job):  # day by day, every job: a job's runs are spread over the file, as in life
            for j in range(jobs):
                number += 1
                yield make_run(number, job_name(j), day, rng.choice(FINAL))

    def pending() -> Iterator[tuple[Run, list[LogEntry]]]:
        nonlocal number
        rng = random.Random(2)
        for i in range(unfinished):
            number += 1
            yield make_run(number, job_name(i % jobs), per_job + i // jobs, rng.choice(PENDING))

    updated = START + timedelta(days=per_job)
    for source in (finished(), pending()):
        while chunk := [pair for _, pair in zip(range(50_000), source, strict=False)]:
            conn.execute("BEGIN")
            conn.executemany(INSERT_RUN, (codec.encode_run(run, updated) for run, _ in chunk))
            conn.executemany(INSERT_LOG, (codec.encode_log(entry) for _, log in chunk for entry in log))
            conn.execute("COMMIT")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'next_run'", (number + 1,))
    conn.close()


async def _create(db: Path) -> None:
    await (await SqliteStore.open(db)).close()


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1])


async def timed(make: Callable[[], Awaitable[Any]], times: int) -> tuple[float, float, float, int]:
    samples, size = [], 0
    for _ in range(times):
        t0 = time.perf_counter()
        size = len(await make())
        samples.append(time.perf_counter() - t0)
    return (*percentiles(samples), size)


def rss() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


async def measure(db: Path, jobs: int, fetches: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    store = await SqliteStore.open(db)
    out["open"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pending = await store.unfinished()
    out["unfinished"] = time.perf_counter() - t0
    out["unfinished_count"] = len(pending)
    out["rss"] = rss()
    rng = random.Random(3)
    samples = []
    for _ in range(fetches):
        job = job_name(rng.randrange(jobs))
        t0 = time.perf_counter()
        found = await store.runs(RunQuery(job_id=job, limit=100))
        samples.append(time.perf_counter() - t0)
        assert len(found) == 100, (job, len(found))
    out["fetch"] = percentiles(samples)
    some = job_name(17)
    any_args = (await store.runs(RunQuery(job_id=some, states=frozenset({State.SUCCESS}), limit=1)))[0].args
    queries = {
        "state failure": RunQuery(states=frozenset({State.FAILURE})),
        "states failure+error": RunQuery(states=frozenset({State.FAILURE, State.ERROR})),
        "states success+failure": RunQuery(states=frozenset({State.SUCCESS, State.FAILURE})),
        "state running": RunQuery(states=frozenset({State.RUNNING})),
        "job + state failure": RunQuery(job_id=some, states=frozenset({State.FAILURE})),
        "job prefix team7/": RunQuery(job_prefix="team7/"),
        "prefix + state error": RunQuery(job_prefix="team7/area3", states=frozenset({State.ERROR})),
        "job + exact args (dependency)": RunQuery(job_id=some, args=any_args, exact_args=True,
                                                  states=frozenset({State.SUCCESS}), limit=1),
        "job + args region=eu": RunQuery(job_id=some, args={"region": "eu"}),
        "schedule_time window (1 day)": RunQuery(since=START + timedelta(days=50), until=START + timedelta(days=51)),
        "newest 100, any job": RunQuery(),
        "page: before r500000": RunQuery(before=run_id(500_000)),
    }
    out["queries"] = {name: await timed(lambda q=query: store.runs(q), 20) for name, query in queries.items()}
    out["commits"] = await commit_rates(store)
    t0 = time.perf_counter()
    await store.close()
    out["close"] = time.perf_counter() - t0
    out["raw"] = raw_commit_rate(db)
    return out


async def commit_rates(store: SqliteStore, rounds: int = 3) -> dict[str, tuple[int, float, int]]:
    """(commits, seconds, transactions) of the median round, grouped and not, rounds interleaved, on the big store.

    The same work both ways: 1,000 runs, each committed when made and at three transitions. Grouped, the runs
    go at once (as when 1,000 runs are due together); ungrouped, one commit is awaited before the next is
    made, so each is a transaction of its own.
    """
    transactions = 0
    write = store._write  # counted here only: the store does not keep statistics

    def counting(batch: list[Any]) -> Any:
        nonlocal transactions
        transactions += 1
        return write(batch)

    store._write = counting  # type: ignore[method-assign]
    now = START + timedelta(days=400)

    async def life(run: Run) -> None:
        await store.commit(Changes(runs=[run]))
        for step in (State.STARTING, State.RUNNING, State.SUCCESS):
            run, entry = transition(run, step, now, str(step))
            await store.commit(Changes(runs=[run], log=[entry]))

    async def grouped(runs: list[Run]) -> None:
        async with asyncio.TaskGroup() as tg:
            for run in runs:
                tg.create_task(life(run))

    async def ungrouped(runs: list[Run]) -> None:
        for run in runs:
            await life(run)

    labels = {grouped: "1,000 runs x 4 commits, all at once (grouped)",
              ungrouped: "1,000 runs x 4 commits, one at a time (ungrouped)"}
    samples: dict[str, list[tuple[int, float, int]]] = {label: [] for label in labels.values()}
    for _ in range(rounds):
        for way, label in labels.items():
            runs = [replace(make_run(0, job_name(i), 400, State.SCHEDULED)[0], id=number)
                    for i, number in enumerate(store.new_ids(1000))]
            transactions = 0
            t0 = time.perf_counter()
            await way(runs)
            samples[label].append((4000, time.perf_counter() - t0, transactions))
    return {label: sorted(rounds_, key=lambda sample: sample[1])[len(rounds_) // 2]
            for label, rounds_ in samples.items()}


def raw_commit_rate(db: Path, count: int = 2000) -> tuple[int, float, int]:
    """The floor: plain sqlite3 on this thread, one transaction per commit of one run row and one log line."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    run, log = make_run(0, job_name(1), 500, State.SUCCESS)
    base = conn.execute("SELECT max(id) FROM runs").fetchone()[0] + 1
    t0 = time.perf_counter()
    for i in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT_RUN, codec.encode_run(replace(run, id=run_id(base + i)), START))
        conn.execute(INSERT_LOG, codec.encode_log(replace(log[0], run_id=run_id(base + i))))
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    conn.close()
    return count, seconds, count


def report(out: dict[str, Any], args: argparse.Namespace, fill_seconds: float, size: int) -> None:
    ms = 1000
    print(f"store: {args.runs:,} finished runs of {args.jobs:,} jobs + {args.unfinished:,} unfinished, "
          f"4 log lines per finished run; file {size / 2**20:,.0f} MiB; filled in {fill_seconds:.0f} s")
    print()
    print(f"| {'measure':<52} | {'value':>22} | target, transactions |")
    print(f"|{'-' * 54}|{'-' * 24}|----------------------|")
    startup = out["open"] + out["unfinished"]
    rows = [
        ("open (migrations checked, next run number)", f"{out['open'] * ms:.1f} ms", ""),
        (f"unfinished() ({out['unfinished_count']:,} runs)", f"{out['unfinished'] * ms:.0f} ms", ""),
        ("open + unfinished()", f"{startup:.2f} s", "< 10 s"),
        ("RSS after open + unfinished() (peak)", f"{out['rss']['VmRSS']} MB ({out['rss']['VmHWM']} MB)", "< 250 MB"),
        ("job's last 100 runs, 200 random jobs: p50/p99/max",
         "/".join(f"{v * ms:.1f}" for v in out["fetch"]) + " ms", "p99 < 50 ms"),
    ]
    for name, (p50, _, top, size_) in out["queries"].items():
        rows.append((f"{name} ({size_} runs): p50/max", f"{p50 * ms:.1f}/{top * ms:.1f} ms", ""))
    for name, (count, seconds, transactions) in {**out["commits"],
                                                 "plain sqlite3, 1 transaction per commit (floor)": out["raw"]}.items():
        rows.append((name, f"{count / seconds:,.0f} commits/s", f"{transactions:,} tx"))
    rows.append(("close", f"{out['close'] * ms:.0f} ms", ""))
    for name, value, target in rows:
        print(f"| {name:<52} | {value:>22} | {target} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--unfinished", type=int, default=20_000)
    parser.add_argument("--fetches", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.jobs, args.fetches))))
        return
    (ROOT / ".bench-tmp").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="store-", dir=ROOT / ".bench-tmp"))
    db = folder / "apsis.db"
    try:
        t0 = time.perf_counter()
        fill(db, args.jobs, args.runs, args.unfinished)
        fill_seconds = time.perf_counter() - t0
        size = db.stat().st_size
        child = subprocess.run([sys.executable, __file__, "--measure", str(db), "--jobs", str(args.jobs),
                                "--fetches", str(args.fetches)], check=True, capture_output=True, text=True)
        report(json.loads(child.stdout), args, fill_seconds, size)
    finally:
        if args.keep:
            print(f"kept {db}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
            if folder.parent.exists() and not any(folder.parent.iterdir()):
                folder.parent.rmdir()


if __name__ == "__main__":
    main()
