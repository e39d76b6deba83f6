"""Benchmark: the API with 1,000,000 runs stored: the runs list by job and by state, and 100 clients following the
live stream while runs change state 200 times a second.

    tools/sandbox.py run -- .venv/bin/python bench/api.py [--runs 1000000] [--jobs 10000] [--clients 100]
                                                          [--rate 200] [--seconds 30] [--keep]

The store is filled as bench/store.py fills it (10,000 jobs' history, rows
from the store's own codec); apsisd runs on it as a real process. The floor
of a list is the same query on the store in this process (SqliteStore.runs on
the same file, WAL letting it read beside apsisd): what the API adds is the
HTTP, the JSON and apsisd's event loop. Targets: list p99 < 50 ms.

Then `--clients` clients (in 4 processes, so the clients' own parsing is not
what is measured) follow GET /api/v1/events while this process creates runs of
a job whose program is `true` at `--rate` / 4 runs a second: each run changes
state four times (scheduled, starting, running, success), every one a systemd
unit. A client's lag on an event is when it read it minus when the run entered
that state (the time in the run's own JSON, set before the change is
committed): so it counts the commit, the stream and the client. Target: no
client ever behind by more than 1 s.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import store as store_bench
from floor import Daemon, percentiles, scratch

from agentd.types import JobId
from apsisd.runs.state import FINISHED, State
from apsisd.store.base import RunQuery
from apsisd.store.sqlite import SqliteStore

SOCKET = "/run/apsis/api.sock"
TARGETS = {"list_p99": 0.050, "lag": 1.0}
LIST_SAMPLES = 300
CLIENT_PROCESSES = 4
CHANGES_PER_RUN = 4  # scheduled, starting, running, success


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET, limit=0),
                                 timeout=aiohttp.ClientTimeout(total=None))


# -- the runs list ---------------------------------------------------------------------------------

def list_queries(jobs: int) -> dict[str, list[tuple[str, RunQuery]]]:
    """For each kind of list, LIST_SAMPLES (API query string, the store's query) pairs."""
    rng = random.Random(7)
    by_job, by_state, by_both = [], [], []
    states = [State.SUCCESS, State.FAILURE, State.ERROR, State.SKIPPED]
    for _ in range(LIST_SAMPLES):
        job = store_bench.job_name(rng.randrange(jobs))
        state = rng.choice(states)
        by_job.append((f"job={job}&limit=100", RunQuery(job_id=job, limit=100)))
        by_state.append((f"state={state}&limit=100", RunQuery(states=frozenset({state}), limit=100)))
        by_both.append((f"job={job}&state={state}&limit=100", RunQuery(job_id=job, states=frozenset({state}),
                                                                       limit=100)))
    return {"by job": by_job, "by state": by_state, "by job and state": by_both}


async def time_lists(store: SqliteStore, queries: dict[str, list[tuple[str, RunQuery]]]
                     ) -> dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """Per kind: the API's p50/p99/max and the store's (the floor). Interleaved, so both see the same load, and
    each goes first half the time (the second finds the pages the first read in the cache)."""
    out = {}
    async with session() as client:
        for kind, pairs in queries.items():
            api: list[float] = []
            floor: list[float] = []
            for index, (text, query) in enumerate(pairs):
                for which in ((0, 1) if index % 2 else (1, 0)):
                    t0 = time.perf_counter()
                    if which == 0:
                        async with client.get(f"http://apsis/api/v1/runs?{text}") as response:
                            body = await response.json()
                        assert response.status == 200, body
                    else:
                        await store.runs(query)
                    (api if which == 0 else floor).append(time.perf_counter() - t0)
            out[kind] = (percentiles(api), percentiles(floor))
    return out


# -- the live stream -------------------------------------------------------------------------------

async def follow(client: aiohttp.ClientSession, lags: list[float], stop: asyncio.Event) -> int:
    """One client: read the stream until `stop`; the lag of each run event into `lags`; events read. Read by
    chunks, split into events by hand: a hundred clients on two CPUs must cost less than the apsisd they watch."""
    events = 0
    async with client.get("http://apsis/api/v1/events?recent=0") as response:
        assert response.status == 200
        pending = b""
        while not stop.is_set():
            try:
                async with asyncio.timeout(1):
                    chunk = await response.content.readany()
            except TimeoutError:
                continue
            if not chunk:
                break
            now = time.time()
            *complete, pending = (pending + chunk).split(b"\n\n")
            for event in complete:
                if b"event: run\n" not in event:
                    continue
                run = json.loads(event[event.index(b"data: ") + 6:])
                lags.append(now - datetime.fromisoformat(run["times"][run["state"]]).timestamp())
                events += 1
    return events


async def client_process(count: int, seconds: float) -> None:
    """`count` clients in this process, for `seconds`; prints each one's events, max and p99 lag as JSON."""
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with session() as client:
        lags: list[list[float]] = [[] for _ in range(count)]
        read = await asyncio.gather(*(follow(client, lags[i], stop) for i in range(count)))
    print(json.dumps([{"events": n, "max": max(lag, default=0.0), "p99": percentiles(lag)[1] if lag else 0.0}
                      for n, lag in zip(read, lags, strict=True)]))


async def drive(rate: float, seconds: float) -> int:
    """Create runs of bench/tick so that runs change state `rate` times a second; the runs created. The requests
    go out on time whether or not the ones before are answered (a slow answer must not slow the load)."""
    runs_per_second = rate / CHANGES_PER_RUN
    batch = max(1, round(runs_per_second / 10))  # ten requests a second
    made = 0
    began = time.perf_counter()
    async with session() as client:

        async def create() -> None:
            async with client.post("http://apsis/api/v1/runs", json={"job_id": "bench/tick", "count": batch}) as r:
                assert r.status == 201, await r.text()

        requests = []
        while (elapsed := time.perf_counter() - began) < seconds:
            due = made / runs_per_second
            if due > elapsed:
                await asyncio.sleep(due - elapsed)
            requests.append(asyncio.create_task(create()))
            made += batch
        await asyncio.gather(*requests)
    return made


async def stream_bench(clients: int, rate: float, seconds: float) -> tuple[list[dict[str, Any]], int, float]:
    per = [clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES) for i in range(CLIENT_PROCESSES)]
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", str(n), "--seconds", str(seconds + 300),  # until told to stop
        stdout=asyncio.subprocess.PIPE) for n in per if n]
    await asyncio.sleep(3)  # every client connected and past its snapshot
    began = time.perf_counter()
    made = await drive(rate, seconds)
    driven = time.perf_counter() - began
    await asyncio.sleep(5)  # the last runs end and reach the clients
    results: list[dict[str, Any]] = []
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, _ = await proc.communicate()
        results.extend(json.loads(out))
    return results, made, driven


# -- the whole -------------------------------------------------------------------------------------

async def measure(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    daemon = Daemon(folder)
    daemon.store = await SqliteStore.open(daemon.state / "apsis.db")
    try:
        await daemon.start("--log-level", "warning", timeout=300)
        lists = await time_lists(daemon.store, list_queries(args.jobs))
        results, made, driven = await stream_bench(args.clients, args.rate, args.seconds)
        stored = len(await daemon.store.runs(RunQuery(job_id=JobId("bench/tick"), limit=1_000_000)))
        ended = len(await daemon.store.runs(RunQuery(job_id=JobId("bench/tick"), states=FINISHED, limit=1_000_000)))
        assert await daemon.stop() == 0, daemon.log()[-3000:]
    finally:
        await daemon.close()
    return {"lists": lists, "clients": results, "made": made, "driven": driven, "stored": stored, "ended": ended}


def report(args: argparse.Namespace, fill_seconds: float, out: dict[str, Any]) -> None:
    print(f"{args.runs:,} finished runs of {args.jobs:,} jobs in the store (filled in {fill_seconds:.0f} s); "
          f"{os.cpu_count()} CPUs")
    print()
    print(f"runs list, limit 100, {LIST_SAMPLES} random queries each (ms):")
    print()
    print("| list | API p50 | API p99 | API max | store p50 (floor) | store p99 | ratio p50 | ratio p99 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for kind, (api, floor) in out["lists"].items():
        worst = max(worst, api[1])
        print(f"| {kind} | {api[0] * 1000:.1f} | {api[1] * 1000:.1f} | {api[2] * 1000:.1f} | "
              f"{floor[0] * 1000:.1f} | {floor[1] * 1000:.1f} | {api[0] / floor[0]:.2f} | {api[1] / floor[1]:.2f} |")
    clients = out["clients"]
    changes = out["made"] * CHANGES_PER_RUN
    maxima = [client["max"] for client in clients]
    p99s = [client["p99"] for client in clients]
    print()
    print(f"live stream: {len(clients)} clients; {out['made']:,} runs created in {out['driven']:.1f} s "
          f"({changes / out['driven']:.0f} state changes a second; {out['ended']:,} of {out['stored']:,} ended)")
    print()
    print("| measure | min | p50 | p99 | max |")
    print("| --- | --- | --- | --- | --- |")
    events = sorted(client["events"] for client in clients)
    print(f"| run events read per client | {events[0]:,} | {events[len(events) // 2]:,} | "
          f"{events[min(len(events) - 1, int(len(events) * 0.99))]:,} | {events[-1]:,} |")
    for name, values in (("a client's worst lag (s)", maxima), ("a client's p99 lag (s)", p99s)):
        p50, p99, top = percentiles(values)
        print(f"| {name} | {min(values):.3f} | {p50:.3f} | {p99:.3f} | {top:.3f} |")
    print()
    lagged = sum(value > TARGETS["lag"] for value in maxima)
    print(f"targets: list p99 {'met' if worst < TARGETS['list_p99'] else 'missed'} "
          f"({worst * 1000:.1f} ms < {TARGETS['list_p99'] * 1000:.0f} ms); "
          f"stream {'met' if not lagged else 'missed'} ({lagged} of {len(clients)} clients ever more than "
          f"{TARGETS['lag']:.0f} s behind; every client read {events[0]:,} events or more of "
          f"{changes:,} changes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200, help="state changes a second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)  # a client process of the bench's own
    args = parser.parse_args()
    if args.client:
        asyncio.run(client_process(args.client, args.seconds))
        return
    with scratch("api", args.keep) as folder:
        t0 = time.perf_counter()
        store_bench.fill(folder / "state" / "apsis.db", args.jobs, args.runs, 0)
        fill_seconds = time.perf_counter() - t0
        (folder / "jobs" / "bench").mkdir(parents=True)
        (folder / "jobs" / "bench" / "tick.yaml").write_text('program: "true"\n')
        out = asyncio.run(measure(folder, args))
    report(args, fill_seconds, out)


if __name__ == "__main__":
    main()
