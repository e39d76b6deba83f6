"""Benchmark: the web page with real history (issue 16, section 3), in a real apsisd and a real browser.

    tools/sandbox.py run -- .venv/bin/python bench/web.py [--runs 1000000] [--jobs 10000] [--repeat 40]
                                                          [--rate 200] [--seconds 60]

1. History. A store of --runs runs of --jobs jobs (bench/history.py's fill(), then every run left unfinished
   there is recorded as finished: the bench's apsisd has no unit for them) and a jobs folder with those jobs
   (their labels and params, no schedule), served by a real apsisd over loopback TCP. Each filter the runs page
   offers (alone and combined, both orders, the first page and a page deep in the history) is asked --repeat
   times with values drawn anew, and a run's page as often; the figure is apsisd's own Server-Timing (the
   handler's time, from the request's arrival to its answer), with the time the client saw beside it. The floor,
   measured in the same run: a run's JSON from the API by its id.
2. Live. The runs page in headless Chromium, following the stream, while --rate changes a second are made for
   --seconds (runs created for later, then skipped: a change each, nothing for systemd to do). Every second the
   bench reads the page's last change applied (data-live-seq), the last change apsisd made (a client of the
   stream of its own), the rows on the page, the page's DOM nodes and its JavaScript heap. It prints how far
   behind the page fell (changes, and seconds at the rate), how long it took to catch up once the load
   stopped, and whether the rows, nodes or heap grew (the heap's last third over its first).
"""
from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from floor import Daemon, percentiles, scratch
from history import History, fill

from tests.integration.browser import chromium, goto
from tests.integration.served import Served, serve

Draw = Callable[[random.Random], str]  # a query string, drawn anew each time


def finish_everything(db: Path) -> None:
    """The runs fill() left unfinished, recorded as finished: this apsisd has no unit for any of them."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE runs SET state = CASE WHEN state = 'scheduled' THEN 'skipped' ELSE 'success' END "
                 "WHERE state NOT IN ('success', 'failure', 'error', 'skipped')")
    conn.close()


def write_jobs(folder: Path, history: History) -> None:
    """The jobs of the history, as files: their labels and params; no schedule (nothing is made while measured)."""
    labels: dict[str, list[str]] = {}
    for label, jobs in history.labels.items():
        for job in jobs:
            labels.setdefault(job, []).append(label)
    with_args = set(history.with_args)
    for job in history.jobs:
        path = folder / f"{job}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        params = "params: [date, region]\n" if job in with_args else ""
        path.write_text(f"program: \"true\"\n{params}metadata:\n  labels: {sorted(labels.get(job, []))}\n")


def filters(history: History) -> dict[str, Draw]:
    """Every filter the runs page offers, alone and as its form combines them; values drawn from the history."""
    jobs, busy = history.jobs, history.busy
    labels = sorted(history.labels)
    hosts = history.hosts

    def folder(rng: random.Random) -> str:
        return rng.choice(jobs).rsplit("/", 1)[0] + "/"

    def day(rng: random.Random) -> str:
        return (datetime(2026, 12, 1, tzinfo=UTC) - timedelta(days=rng.randrange(1, 360))).strftime("%Y-%m-%d")

    states = ("failure", "error", "skipped", "success", "running")
    base: dict[str, Draw] = {
        "none": lambda rng: "",
        "job": lambda rng: f"job={rng.choice(jobs)}",
        "busy job": lambda rng: f"job={rng.choice(busy)}",
        "path": lambda rng: f"path={folder(rng)}",
        "label": lambda rng: f"label={rng.choice(labels)}",
        "arg": lambda rng: f"arg=date={day(rng)}",
        "job+arg": lambda rng: f"job={rng.choice(history.with_args)}&arg=region=eu",
        "state": lambda rng: f"state={rng.choice(states)}",
        "2 states": lambda rng: "state=failure&state=error",
        "job+state": lambda rng: f"job={rng.choice(jobs)}&state=failure",
        "path+state": lambda rng: f"path={folder(rng)}&state=failure",
        "label+state": lambda rng: f"label={rng.choice(labels)}&state=failure",
        "origin adhoc": lambda rng: "origin=adhoc",
        "origin+state": lambda rng: "origin=rerun&state=failure",
        "host": lambda rng: f"host={rng.choice(hosts)}",
        "host+state": lambda rng: f"host={rng.choice(hosts)}&state=failure",
        "time range": lambda rng: f"since={day(rng)}T00:00&until={day(rng)}T23:59",
        "state+time range": lambda rng: f"state=failure&since={day(rng)}T00:00&until={day(rng)}T23:59",
    }
    every: dict[str, Draw] = {}
    for name, draw in base.items():
        for order in ("time",) if "time range" in name else ("id", "time"):  # the page shows a range by time
            every[f"{name}, {order}"] = _ordered(draw, order, None)
            every[f"{name}, {order}, deep"] = _ordered(draw, order, history.runs)
    return every


def _ordered(draw: Draw, order: str, deep_in: int | None) -> Draw:
    """`draw` in `order`; with `deep_in` (the history's runs), a page far back (before a run 1/8 to 1/4 in)."""
    def drawn(rng: random.Random) -> str:
        text = draw(rng) + ("" if order == "id" else "&order=time")
        return text + (f"&before=r{rng.randrange(deep_in // 8, deep_in // 4)}" if deep_in else "")
    return drawn


async def timed(client: aiohttp.ClientSession, url: str) -> tuple[float, float]:
    """apsisd's Server-Timing for `url` and the time the client saw, in ms."""
    began = time.perf_counter()
    async with client.get(url) as response:
        await response.read()
        assert response.status == 200, f"{url}: {response.status}"
        header = response.headers.get("Server-Timing", "")
    seen = (time.perf_counter() - began) * 1000
    server = float(header.split("dur=")[1]) if "dur=" in header else float("nan")
    return server, seen


async def settled(client: aiohttp.ClientSession, served: Served) -> float:
    """Until apsisd has read every job's last run (the jobs page's, read in the background after its start) and
    made the jobs tree: what it does once, at start, is not what a page costs. The seconds it took."""
    began = time.monotonic()
    while True:
        async with client.get(f"{served.url}/jobs") as response:
            if response.status == 200 and "being read" not in await response.text():
                return time.monotonic() - began
        await asyncio.sleep(1.0)


async def history_phase(served: Served, history: History, repeat: int, seed: int) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {served.read}"}
    async with aiohttp.ClientSession(headers=headers) as client:
        print(f"apsisd settled (every job's last run read) {await settled(client, served):.1f} s after it was ready")
        floor_server, _ = zip(*[await timed(client, f"{served.url}/api/v1/runs/r{rng.randrange(1, history.runs)}")
                                for _ in range(repeat * 5)], strict=True)
        floor = percentiles(floor_server)[0]
        print(f"floor: a run's JSON by its id, server p50 {floor:.2f} ms\n")
        print(f"{'runs page':<34}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'p99/floor':>11}{'client p99':>12}")
        worst = 0.0
        for name, draw in filters(history).items():
            samples = [await timed(client, f"{served.url}/runs?{draw(rng)}") for _ in range(repeat)]
            server = percentiles([each[0] for each in samples])
            seen = percentiles([each[1] for each in samples])
            worst = max(worst, server[1])
            print(f"{name:<34}{server[0]:>9.1f}{server[1]:>9.1f}{server[2]:>9.1f}{server[1] / floor:>11.0f}"
                  f"{seen[1]:>12.1f}")
        labels = sorted(history.labels)
        others: dict[str, Draw] = {
            "run page": lambda rng: f"/runs/r{rng.randrange(1, history.runs)}",
            "jobs page, all": lambda rng: "/jobs",
            "jobs page, a search": lambda rng: f"/jobs?q={rng.choice(history.jobs).rsplit('/', 1)[1]}",
            "jobs page, a label": lambda rng: f"/jobs?label={rng.choice(labels)}",
            "job page": lambda rng: f"/jobs/{rng.choice(history.jobs)}",
        }
        run_page = 0.0
        print()
        for name, draw in others.items():
            samples = [await timed(client, served.url + draw(rng)) for _ in range(repeat * 2)]
            server = percentiles([each[0] for each in samples])
            run_page = server[1] if name == "run page" else run_page
            print(f"{name:<34}{server[0]:>9.1f}{server[1]:>9.1f}{server[2]:>9.1f}{server[1] / floor:>11.0f}"
                  f"{percentiles([each[1] for each in samples])[1]:>12.1f}")
        print(f"\nworst runs page p99: {worst:.1f} ms (target < 200); run page p99: {run_page:.1f} ms (target < 100)")


async def last_change(served: Served, seen: list[int], stop: asyncio.Event) -> None:
    """Follow the stream as a plain client: the number of the last change apsisd made, as it comes."""
    headers = {"Authorization": f"Bearer {served.read}"}
    async with aiohttp.ClientSession(headers=headers) as client, \
            client.get(f"{served.url}/api/v1/events?recent=0", timeout=aiohttp.ClientTimeout(total=None)) as stream:
        tail = b""  # a line may be cut between chunks; a snapshot's line is megabytes long
        async for chunk in stream.content.iter_any():
            data = tail + chunk
            for found in re.finditer(rb"(?:^|\n)id: (\d+)\n", data):
                seen[0] = max(seen[0], int(found[1]))
            tail = data[-64:]
            if stop.is_set():
                return


async def load(served: Served, rate: int, seconds: float, made: list[int]) -> None:
    """`rate` changes a second for `seconds`: runs created for next year (one change each), then skipped."""
    headers = {"Authorization": f"Bearer {served.operate}"}
    tick = 0.05
    per_tick = max(1, round(rate * tick / 2))
    waiting: list[str] = []
    async with aiohttp.ClientSession(headers=headers) as client:
        began = time.monotonic()
        step = 0
        while time.monotonic() - began < seconds:
            step += 1
            async with client.post(f"{served.url}/api/v1/runs", json={
                    "job_id": "tick", "at": "2027-12-01T00:00:00Z", "count": per_tick}) as response:
                answer = await response.json()
                assert response.status == 201, answer
                waiting.extend(run["run_id"] for run in answer["runs"])
            skips = [client.post(f"{served.url}/api/v1/runs/{run_id}/skip") for run_id in waiting[:per_tick]]
            del waiting[:per_tick]
            for response in await asyncio.gather(*[each.__aenter__() for each in skips]):
                assert response.status == 200, await response.text()
                response.release()
            made[0] += 2 * per_tick
            await asyncio.sleep(max(0.0, began + step * tick - time.monotonic()))


async def live_phase(served: Served, folder: Path, rate: int, seconds: float) -> None:
    async with chromium(folder / "browser") as browser, browser.page(token=served.read) as page:
        await goto(page, f"{served.url}/runs")
        await page.wait_for_function("document.documentElement.dataset.live === 'on'")
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        seen, made = [0], [0]
        stop = asyncio.Event()
        samples: list[dict[str, float]] = []

        async def sample(loading: bool) -> None:
            metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
            state = await page.evaluate("""() => ({seq: Number(document.documentElement.dataset.liveSeq || 0),
                rows: document.querySelectorAll('#runs tbody tr').length,
                nodes: document.getElementsByTagName('*').length})""")
            samples.append({"loading": loading, "behind": max(0, seen[0] - state["seq"]), "rows": state["rows"],
                            "nodes": state["nodes"], "heap": metrics["JSHeapUsedSize"] / 2 ** 20})

        async with asyncio.TaskGroup() as group:
            group.create_task(last_change(served, seen, stop), name="bench:stream")
            loading = group.create_task(load(served, rate, seconds, made), name="bench:load")
            began = time.monotonic()
            while not loading.done():
                await asyncio.sleep(1.0)
                await sample(True)
            offered = made[0] / (time.monotonic() - began)
            stopped = time.monotonic()
            caught_up = None
            while time.monotonic() - stopped < 30:
                await sample(False)
                if samples[-1]["behind"] == 0:
                    caught_up = time.monotonic() - stopped
                    break
                await asyncio.sleep(0.1)
            stop.set()
            group.create_task(_poke(served), name="bench:poke")  # a last change, so the stream client sees stop
        during = [each for each in samples if each["loading"]]
        third = max(1, len(during) // 3)
        first_heap = sum(each["heap"] for each in during[:third]) / third
        last_heap = sum(each["heap"] for each in during[-third:]) / third
        behind = [each["behind"] for each in during]
        print(f"\nlive: {made[0]} changes in {seconds:.0f} s ({offered:.0f} a second)")
        print(f"  behind while loaded: p50 {percentiles(behind)[0]:.0f}, max {max(behind):.0f} changes "
              f"({max(behind) / offered:.2f} s at the rate)")
        said = f"in {caught_up:.2f} s" if caught_up is not None else "NOT within 30 s"
        print(f"  caught up {said} after the load stopped")
        print(f"  rows max {max(each['rows'] for each in samples):.0f}; DOM nodes first {during[0]['nodes']:.0f}, "
              f"max {max(each['nodes'] for each in samples):.0f}")
        print(f"  JS heap: first third {first_heap:.1f} MiB, last third {last_heap:.1f} MiB "
              f"(ratio {last_heap / first_heap:.2f})")


async def _poke(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.operate}"}
    async with aiohttp.ClientSession(headers=headers) as client, client.post(
            f"{served.url}/api/v1/runs", json={"job_id": "tick", "at": "2027-12-01T00:00:00Z"}) as response:
        await response.read()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    with scratch("web", options.keep) as folder:
        began = time.monotonic()
        daemon = Daemon(folder, first_run=options.runs + 100)
        (folder / "state").mkdir()
        history = await asyncio.to_thread(fill, folder / "state" / "apsis.db", options.runs, options.jobs, options.seed)
        finish_everything(folder / "state" / "apsis.db")
        write_jobs(daemon.jobs, history)
        daemon.job("tick", 'program: "true"\n')
        print(f"history: {history.runs:,} runs of {options.jobs:,} jobs made in {time.monotonic() - began:.0f} s")
        try:
            served = await serve(daemon)
            await history_phase(served, history, options.repeat, options.seed)
            await live_phase(served, folder, options.rate, options.seconds)
        finally:
            await daemon.close()


if __name__ == "__main__":
    asyncio.run(main())
