"""Benchmark: the runs page's queries on a store with real history (issue 16, "Fast with real history").

    .venv/bin/python bench/history.py [--runs 1000000] [--jobs 10000] [--repeat 30] [--dir FOLDER] [--keep]

fill() makes a SQLite store through SqliteStore.open (so the schema is the
migrations' own) and fills it in bulk: N runs of J jobs, ids in folders
(`team3/etl/load17`), a few jobs far busier than the rest, schedule times over
the past year and a day ahead, ids given in the order the runs were made
(a scheduled run shortly before its time, an operator's at it), states mostly
success, origins mostly schedule, hosts by job (`local` and a few named),
args on a share of the jobs, labels on the jobs (returned: the page turns a
label into the set of its jobs, as the API does from the jobs folder).

main() then times every filter the runs page offers, alone and in the
combinations it offers, in both orders, the first page of 100 and a page deep
in the history (`before` a run 3/4 of the way back), each `--repeat` times
with its values drawn anew (a random job, folder, label, host...), through
the store's own runs_page() as apsisd serves it; and a floor measured
in the same process: one run read by its id (the primary key), through the
same store. It prints p50/p99/max in ms per query, the p99 of its CPU time
(the process's: what other work on the machine does not add), and p99 over
the floor's p50. The database lives in a fresh folder under --dir (default: the
checkout's .build/) and is removed afterwards, unless --keep.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentd.spec import RunSpec  # noqa: E402
from agentd.types import JobId, RunId  # noqa: E402
from apsisd.runs.model import Origin, run_id  # noqa: E402
from apsisd.runs.state import State  # noqa: E402
from apsisd.store import codec  # noqa: E402
from apsisd.store.base import RunQuery, runs_page  # noqa: E402
from apsisd.store.sqlite import SqliteStore  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
AHEAD = timedelta(days=1)  # the scheduled runs already made, due within a day
AREAS = ("etl", "reports", "backup", "sync", "ml")
NAMES = ("load", "export", "check", "build", "copy")
HOSTS = ("local",) * 14 + ("db1", "db1", "db2", "web1", "web2", "batch")  # by job; gpu1 is rare: see _host
FINAL = [State.SUCCESS] * 930 + [State.FAILURE] * 40 + [State.ERROR] * 10 + [State.SKIPPED] * 20
ORIGINS = [Origin.SCHEDULE] * 930 + [Origin.MANUAL] * 20 + [Origin.RERUN] * 15 + [Origin.RETRY] * 25 + \
    [Origin.ACTION] * 5 + [Origin.ADHOC] * 5
REGIONS = ("eu", "us", "ap")
_MICRO = 1_000_000
_COLUMNS = (*codec.RUN_COLUMNS, "seq")
_ROW = f"INSERT INTO runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """What fill() made: enough to draw realistic query values from."""

    runs: int
    jobs: list[JobId]
    busy: list[JobId]  # the jobs far busier than the rest
    labels: dict[str, frozenset[JobId]]
    hosts: list[str]
    with_args: list[JobId]


def job_name(j: int, jobs: int) -> JobId:
    teams = max(1, jobs // 400)
    return JobId(f"team{j % teams}/{AREAS[(j // teams) % len(AREAS)]}/{NAMES[j % len(NAMES)]}{j}")


def _host(j: int) -> str:
    return "gpu1" if j % 997 == 0 else HOSTS[(j * 7) % len(HOSTS)]


def _labels(jobs: list[JobId]) -> dict[str, frozenset[JobId]]:
    """nightly on 1 job in 3, critical on 1 in 50, and each team's label on its team's jobs."""
    found: dict[str, set[JobId]] = {"nightly": set(), "critical": set()}
    for j, job in enumerate(jobs):
        if j % 3 == 0:
            found["nightly"].add(job)
        if j % 50 == 7:
            found["critical"].add(job)
        found.setdefault(job.split("/")[0], set()).add(job)
    return {label: frozenset(members) for label, members in found.items()}


def fill(db: Path, runs: int = 1_000_000, jobs: int = 10_000, seed: int = 1) -> History:
    """A store at `db` made by SqliteStore.open, holding `runs` runs of `jobs` jobs (see the module's doc)."""
    asyncio.run(_create(db))
    rng = random.Random(seed)
    names = [job_name(j, jobs) for j in range(jobs)]
    busy = names[:max(1, jobs // 100)]  # 1% of the jobs make 30% of the runs (every few hours)
    counts = [0] * jobs
    for j in range(len(busy)):
        counts[j] = int(runs * 0.3) // len(busy)
    quiet = jobs - len(busy)
    rest = runs - sum(counts)
    for j in range(len(busy), jobs):
        counts[j] = rest // quiet + (1 if j - len(busy) < rest % quiet else 0)
    with_args = {names[j] for j in range(jobs) if j % 5 == 1}
    start = int((NOW - YEAR).timestamp() * _MICRO)
    span = int((YEAR + AHEAD).total_seconds() * _MICRO)
    now = int(NOW.timestamp() * _MICRO)
    made: list[tuple[int, int, int]] = []  # (made at, due, job)
    for j, count in enumerate(counts):
        step = span // max(count, 1)
        offset = rng.randrange(step)
        for k in range(count):
            due = start + offset + k * step + rng.randrange(-step // 10, step // 10 + 1)
            made.append((due - rng.randrange(3600 * _MICRO), due, j))
    made.sort()
    spec = codec.encode_spec(RunSpec(run_id=RunId("r1"), job_id=JobId("team0/etl/load0"),
                                     argv=("/usr/local/bin/etl", "--date", "2026-01-01"),
                                     env={"MODE": "batch", "REGION": "eu"}, user="etl", timeout=3600.0))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    conn.execute("BEGIN")
    batch: list[tuple[Any, ...]] = []
    for number, (_, due, j) in enumerate(made, start=1):
        origin = rng.choice(ORIGINS)
        job = JobId(f"adhoc/by-hand{j % 10}") if origin is Origin.ADHOC else names[j]
        args = {}
        if names[j] in with_args and origin is not Origin.ADHOC:
            day = datetime.fromtimestamp(due / _MICRO, UTC).date().isoformat()
            args = {"date": day, "region": REGIONS[j % len(REGIONS)]}
        if due > now:
            state = State.SCHEDULED
        elif due > now - 600 * _MICRO:
            state = rng.choice((State.RUNNING, State.RUNNING, State.WAITING, State.SUCCESS))
        else:
            state = rng.choice(FINAL)
        started = state not in (State.SCHEDULED, State.WAITING, State.SKIPPED)
        times = {"scheduled": due - 3600 * _MICRO}
        if started:
            times |= {"starting": due + 10_000, "running": due + 20_000}
        if state.finished:
            times[str(state)] = due + rng.randrange(1, 600) * _MICRO
        exit_code = {State.SUCCESS: 0, State.FAILURE: 1}.get(state)
        batch.append((number, job, codec.encode_args(args), str(state), due, json.dumps(times, separators=(",", ":")),
                      str(origin), 2 if origin is Origin.RETRY else 1, number - 1 if origin is Origin.RETRY else None,
                      "" if state is State.SUCCESS else f"{state} (bench)", None, spec if started else None,
                      f"apsis-r{number}.service" if started else None, None, exit_code, None,
                      None if exit_code is None else "success" if exit_code == 0 else "exit-code",
                      1_234_567 if started else None, 52_428_800 if started else None,
                      0.012 if started else None, _host(j) if started else None, min(due + 600 * _MICRO, now),
                      number))
        if len(batch) == 50_000:
            conn.executemany(_ROW, batch)
            batch.clear()
    conn.executemany(_ROW, batch)
    # Each run's args one row each, as the store writes them with the run (m0006's run_args).
    conn.execute("INSERT INTO run_args (run, name, value, due, job) SELECT runs.id, arg.key, arg.value, "
                 "runs.schedule_time, runs.job_id FROM runs, json_each(runs.args) AS arg")
    conn.execute("UPDATE meta SET value = ? WHERE key IN ('next_run', 'next_seq')", (len(made) + 1,))
    conn.execute("COMMIT")
    conn.close()
    return described(len(made), jobs)


def described(runs: int, jobs: int) -> History:
    """The History fill(db, runs, jobs) makes, without making it."""
    names = [job_name(j, jobs) for j in range(jobs)]
    return History(runs=runs, jobs=names, busy=names[:max(1, jobs // 100)], labels=_labels(names),
                   hosts=sorted({_host(j) for j in range(jobs)}), with_args=sorted(names[j] for j in range(jobs)
                                                                                   if j % 5 == 1))


async def _create(db: Path) -> None:
    await (await SqliteStore.open(db)).close()


def percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99 (nearest rank: with under 100 samples, the max) and max."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


Draw = Callable[[random.Random], RunQuery]


def queries(history: History) -> dict[str, Draw]:
    """Every filter of the runs page, alone and combined as it offers them, each drawing its values anew."""
    def job(rng: random.Random) -> JobId:
        return rng.choice(history.busy if rng.random() < 0.2 else history.jobs)

    def folder(rng: random.Random) -> str:
        parts = rng.choice(history.jobs).split("/")
        return "/".join(parts[:rng.choice((1, 2))]) + rng.choice(("", "/"))

    def label(rng: random.Random) -> frozenset[JobId]:
        return history.labels[rng.choice(sorted(history.labels))]

    def args(rng: random.Random) -> dict[str, str]:
        day = (NOW - timedelta(days=rng.randrange(365))).date().isoformat()
        return rng.choice(({"region": rng.choice(REGIONS)}, {"date": day}))

    def states(rng: random.Random) -> frozenset[State]:
        return rng.choice((frozenset({State.FAILURE}), frozenset({State.FAILURE, State.ERROR}),
                           frozenset({State.SUCCESS}), frozenset({State.RUNNING}), frozenset({State.SKIPPED}),
                           frozenset({State.SCHEDULED, State.WAITING, State.RUNNING})))

    def hosts(rng: random.Random) -> frozenset[str]:
        return frozenset(rng.sample(history.hosts, rng.choice((1, 1, 2))))

    def origins(rng: random.Random) -> frozenset[Origin]:
        return rng.choice((frozenset({Origin.ADHOC}), frozenset({Origin.MANUAL, Origin.RERUN}),
                           frozenset({Origin.SCHEDULE}), frozenset({Origin.RETRY}), frozenset({Origin.ACTION})))

    def window(rng: random.Random) -> dict[str, datetime]:
        end = NOW - timedelta(days=rng.randrange(300))
        length = rng.choice((timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30)))
        return rng.choice(({"since": end - length, "until": end}, {"since": end - length}, {"until": end}))

    return {
        "no filter": lambda rng: RunQuery(),
        "job": lambda rng: RunQuery(job_id=job(rng)),
        "path": lambda rng: RunQuery(job_prefix=folder(rng)),
        "args": lambda rng: RunQuery(args=args(rng)),
        "states": lambda rng: RunQuery(states=states(rng)),
        "label": lambda rng: RunQuery(job_ids=label(rng)),
        "origin": lambda rng: RunQuery(origins=origins(rng)),
        "host": lambda rng: RunQuery(hosts=hosts(rng)),
        "time range": lambda rng: RunQuery(**window(rng)),
        "job+states": lambda rng: RunQuery(job_id=job(rng), states=states(rng)),
        "job+args": lambda rng: RunQuery(job_id=rng.choice(history.with_args), args=args(rng)),
        "job+time range": lambda rng: RunQuery(job_id=job(rng), **window(rng)),
        "path+states": lambda rng: RunQuery(job_prefix=folder(rng), states=states(rng)),
        "path+args": lambda rng: RunQuery(job_prefix=folder(rng), args=args(rng)),
        "path+time range": lambda rng: RunQuery(job_prefix=folder(rng), **window(rng)),
        "label+states": lambda rng: RunQuery(job_ids=label(rng), states=states(rng)),
        "label+time range": lambda rng: RunQuery(job_ids=label(rng), **window(rng)),
        "states+time range": lambda rng: RunQuery(states=states(rng), **window(rng)),
        "host+states": lambda rng: RunQuery(hosts=hosts(rng), states=states(rng)),
        "host+time range": lambda rng: RunQuery(hosts=hosts(rng), **window(rng)),
        "origin+states": lambda rng: RunQuery(origins=origins(rng), states=states(rng)),
        "origin+time range": lambda rng: RunQuery(origins=origins(rng), **window(rng)),
        "origin+host": lambda rng: RunQuery(origins=origins(rng), hosts=hosts(rng)),
        "args+states": lambda rng: RunQuery(args=args(rng), states=states(rng)),
        "path+states+time range": lambda rng: RunQuery(job_prefix=folder(rng), states=states(rng), **window(rng)),
        "label+host+states": lambda rng: RunQuery(job_ids=label(rng), hosts=hosts(rng), states=states(rng)),
    }


async def measure(db: Path, history: History, repeat: int, only: str | None) -> list[tuple[str, Any]]:
    store = await SqliteStore.open(db)
    try:
        rng = random.Random(7)
        floor, floor_cpu = [], []
        for _ in range(max(200, repeat)):
            number = rng.randrange(1, history.runs + 1)
            t0, c0 = time.perf_counter(), time.process_time()
            await store.get(run_id(number))
            floor.append(time.perf_counter() - t0)
            floor_cpu.append(time.process_time() - c0)
        rows: list[tuple[str, Any]] = [("floor: one run by its id", (percentiles(floor), percentiles(floor_cpu),
                                                                      len(floor)))]
        deep = run_id(history.runs // 4)
        for name, draw in queries(history).items():
            if only and only not in name:
                continue
            for order in ("id", "time"):
                for page, before in (("first", None), ("deep", deep)):
                    samples, cpu, found = [], [], 0
                    for _ in range(repeat):
                        query = replace(draw(rng), order=order, before=before)  # type: ignore[arg-type]
                        t0, c0 = time.perf_counter(), time.process_time()
                        runs, _ = await runs_page(store, query)
                        samples.append(time.perf_counter() - t0)
                        cpu.append(time.process_time() - c0)
                        found += len(runs)
                    rows.append((f"{name}, {order} order, {page} page", (percentiles(samples), percentiles(cpu),
                                                                         found // repeat)))
        return rows
    finally:
        await store.close()


def report(rows: list[tuple[str, Any]], history: History, size: int, fill_seconds: float) -> None:
    """One line per query: wall-clock p50/p99/max, the CPU time's p99 (what the machine's other work does not
    add), and the wall-clock p99 over the floor's p50."""
    ms = 1000
    (floor, _, _), _, _ = rows[0][1]
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"store: {history.runs:,} runs of {len(history.jobs):,} jobs; file {size / 2**20:,.0f} MiB; "
          f"filled in {fill_seconds:.0f} s; load average at the end {' '.join(load)}")
    print()
    print(f"| {'query (page of 100)':<46} | {'runs':>5} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | "
          f"{'cpu p99':>7} | {'p99/floor':>9} |")
    print(f"|{'-' * 48}|{'-' * 7}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 11}|")
    for name, ((p50, p99, top), (_, cpu99, _), found) in rows:
        print(f"| {name:<46} | {found:>5} | {p50 * ms:>7.2f} | {p99 * ms:>7.2f} | {top * ms:>7.2f} | "
              f"{cpu99 * ms:>7.2f} | {p99 / floor:>9.0f} |")
    worst = max(rows[1:], key=lambda row: row[1][0][1], default=None)
    if worst:
        print(f"\nworst p99: {worst[0]}, {worst[1][0][1] * ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30, help="samples per query, order and page")
    parser.add_argument("--only", help="only the queries whose name holds this")
    parser.add_argument("--dir", type=Path, default=ROOT / ".build", help="where to make the scratch folder")
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)  # a store filled before, with --keep
    args = parser.parse_args()
    if args.db:
        history = described(args.runs, args.jobs)
        rows = asyncio.run(measure(args.db, history, args.repeat, args.only))
        report(rows, history, args.db.stat().st_size, 0)
        return
    made = not args.dir.exists()
    args.dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="history-", dir=args.dir))
    db = folder / "apsis.db"
    try:
        t0 = time.perf_counter()
        history = fill(db, args.runs, args.jobs)
        fill_seconds = time.perf_counter() - t0
        rows = asyncio.run(measure(db, history, args.repeat, args.only))
        report(rows, history, db.stat().st_size, fill_seconds)
    finally:
        if args.keep:
            print(f"kept {db}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
            if made and not any(args.dir.iterdir()):
                args.dir.rmdir()


if __name__ == "__main__":
    main()
