"""Benchmark: apsisd with 10,000 jobs and 1,000,000 runs in its store: startup time, RSS, a job's last 100 runs.

    tools/sandbox.py run -- .venv/bin/python bench/startup.py [--jobs 10000] [--runs 1000000] [--keep]

The store is filled as bench/store.py fills it (its fill(): rows from the
store's own codec, each run with its log lines, 100 finished runs per job),
the jobs folder with bench/jobs.py's mix of schedules, params, templates and
calendars, one file per job of the store's history. apsisd is then started
twice, as a real process with a NOTIFY_SOCKET: first with no future runs
(it creates them after READY), then again after a SIGTERM, with every job's
future runs (up to max_scheduled, default 10) to take up before READY. For
each start: process start to READY=1; VmRSS (and VmHWM, the peak) at READY
and once apsisd is idle (its CPU time still for a second), and how long
until then. With apsisd running, this process opens the same database (WAL:
a reader beside the writer) and fetches the last 100 runs of 200 random
jobs. Targets: startup < 10 s, RSS < 250 MB, fetch < 50 ms.

Every job waits on a dependency that never succeeds: a folder of 10,000 jobs
has hundreds of runs due at each quarter hour (1,800 at the hour), and the
runs that come due while the bench runs stay `waiting` instead of starting
units (bench/burst.py is where starts are measured).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from pathlib import Path
from typing import Any

import jobs as jobs_bench
import store as store_bench
from floor import Daemon, percentiles, scratch

from apsisd.store.base import RunQuery
from apsisd.store.sqlite import SqliteStore

GATE = "bench/gate"  # a job that never succeeds: every other job's dependency
TARGETS = {"startup": 10.0, "rss": 250, "fetch": 0.050}
IDLE_CPU = 0.01  # CPU seconds per second below which apsisd counts as idle


def write_jobs(folder: Path, count: int) -> None:
    """bench/jobs.py's jobs, named as bench/store.py's history, each also waiting on GATE."""
    rng = random.Random(20260302)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bank.calendar.yaml").write_text(jobs_bench.CALENDAR)
    gate = f"  - {{type: dependency, job_id: {GATE}}}\n"
    for index in range(count):
        text = jobs_bench.job_text(index, rng)
        text = text.replace("condition:\n", "condition:\n" + gate) if "condition:\n" in text else \
            text + "condition:\n" + gate
        path = folder / f"{store_bench.job_name(index)}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (folder / f"{GATE}.yaml").parent.mkdir(parents=True, exist_ok=True)
    (folder / f"{GATE}.yaml").write_text('schedule: {type: explicit, times: ["2020-01-01T00:00:00Z"]}\n'
                                         'program: "false"\n')


def memory(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM, MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


def cpu(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


async def until_idle(pid: int) -> float:
    """Seconds until the process used under IDLE_CPU of CPU in each of two half seconds running."""
    began, quiet, last = time.perf_counter(), 0, cpu(pid)
    async with asyncio.timeout(300):
        while quiet < 2:
            await asyncio.sleep(0.5)
            now = cpu(pid)
            quiet = quiet + 1 if now - last < IDLE_CPU / 2 else 0
            last = now
    return time.perf_counter() - began - 1.0


def forget_sockets(folder: Path) -> None:
    """The first Daemon's notify sockets: a Daemon names its socket by how many messages it has had, and a second
    one (whose wait for READY=1 must not see the first one's) starts counting again."""
    for stale in folder.glob("notify-*.sock"):
        stale.unlink()


async def one_start(daemon: Daemon) -> dict[str, Any]:
    began = time.perf_counter()
    await daemon.start("--log-level", "info", ready=False)
    await daemon.wait_for_message("READY=1", timeout=300)
    out: dict[str, Any] = {"ready": time.perf_counter() - began}
    assert daemon.process is not None
    pid = daemon.process.pid
    out["rss_ready"] = memory(pid)
    out["cpu_ready"] = cpu(pid)
    out["to_idle"] = await until_idle(pid)
    out["rss_idle"] = memory(pid)
    assert daemon.store is not None
    out["unfinished"] = len(await daemon.store.unfinished())
    return out


async def fetches(store: SqliteStore, jobs: int, count: int) -> tuple[float, float, float]:
    rng = random.Random(3)
    samples = []
    for _ in range(count):
        job = store_bench.job_name(rng.randrange(jobs))
        t0 = time.perf_counter()
        found = await store.runs(RunQuery(job_id=job, limit=100))
        samples.append(time.perf_counter() - t0)
        assert len(found) == 100, (job, len(found))
    return percentiles(samples)


async def measure(folder: Path, jobs: int, count: int) -> tuple[dict[str, Any], dict[str, Any],
                                                                 tuple[float, float, float]]:
    first = Daemon(folder)
    first.store = await SqliteStore.open(first.state / "apsis.db")  # open before apsisd starts: not timed with it
    second = Daemon(folder)
    try:
        cold = await one_start(first)
        assert await first.stop() == 0, first.log()[-3000:]
        forget_sockets(folder)
        second.store, first.store = first.store, None
        warm = await one_start(second)
        fetched = await fetches(second.store, jobs, count)
        assert await second.stop() == 0, second.log()[-3000:]
    finally:
        await first.close()
        await second.close()
    return cold, warm, fetched


def report(args: argparse.Namespace, fill_seconds: float, size: int, cold: dict[str, Any], warm: dict[str, Any],
           fetched: tuple[float, float, float]) -> None:
    print(f"{args.jobs:,} jobs (bench/jobs.py's mix) and {args.runs:,} finished runs in the store "
          f"({size / 2**20:,.0f} MiB, filled in {fill_seconds:.0f} s); {os.cpu_count()} CPUs")
    print()
    print("| measure | first start | restart | target |")
    print("| --- | --- | --- | --- |")
    rows = [
        ("unfinished runs taken up at start", f"{0:,}", f"{cold['unfinished']:,}", ""),
        ("process start to READY=1", f"{cold['ready']:.2f} s", f"{warm['ready']:.2f} s",
         f"< {TARGETS['startup']:.0f} s"),
        ("CPU used to READY", f"{cold['cpu_ready']:.2f} s", f"{warm['cpu_ready']:.2f} s", ""),
        ("VmRSS at READY (VmHWM)", "{} MB ({} MB)".format(*cold["rss_ready"]),
         "{} MB ({} MB)".format(*warm["rss_ready"]), f"< {TARGETS['rss']} MB"),
        ("READY to idle", f"{cold['to_idle']:.1f} s", f"{warm['to_idle']:.1f} s", ""),
        ("unfinished runs when idle", f"{cold['unfinished']:,}", f"{warm['unfinished']:,}", ""),
        ("VmRSS when idle (VmHWM)", "{} MB ({} MB)".format(*cold["rss_idle"]),
         "{} MB ({} MB)".format(*warm["rss_idle"]), f"< {TARGETS['rss']} MB"),
        (f"a job's last 100 runs, {args.fetches} random jobs, apsisd running: p50/p99/max", "",
         "/".join(f"{v * 1000:.1f}" for v in fetched) + " ms", f"< {TARGETS['fetch'] * 1000:.0f} ms"),
    ]
    for name, a, b, target in rows:
        print(f"| {name} | {a} | {b} | {target} |")
    verdicts = {
        "startup": max(cold["ready"], warm["ready"]) < TARGETS["startup"],
        "RSS": max(cold["rss_idle"][1], warm["rss_idle"][1]) < TARGETS["rss"],
        "fetch": fetched[1] < TARGETS["fetch"],
    }
    print()
    print("targets: " + ", ".join(f"{name} {'met' if ok else 'missed'}" for name, ok in verdicts.items())
          + " (RSS judged on the peak, fetch on p99)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--fetches", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="leave the folder (jobs, state, log) in place")
    args = parser.parse_args()
    with scratch("startup", args.keep) as folder:
        t0 = time.perf_counter()
        store_bench.fill(folder / "state" / "apsis.db", args.jobs, args.runs, 0)
        fill_seconds = time.perf_counter() - t0
        size = (folder / "state" / "apsis.db").stat().st_size
        write_jobs(folder / "jobs", args.jobs)
        cold, warm, fetched = asyncio.run(measure(folder, args.jobs, args.fetches))
    report(args, fill_seconds, size, cold, warm, fetched)


if __name__ == "__main__":
    main()
