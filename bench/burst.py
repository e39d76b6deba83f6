"""Benchmark: 1,000 runs due at the same instant; apsisd's start rate against the raw StartTransientUnit floor.

    tools/sandbox.py run -- .venv/bin/python bench/burst.py [--runs 1000] [--rounds 3] [--gap 60] [--lead 90]

apsisd loads 1,000 jobs (program [/bin/true]), each with one explicit time
per round, so every run exists, scheduled, before the first instant (one
per job per instant: within the default horizon and max_scheduled). At each
instant all 1,000 come due at once: the scheduler pops them, binds each,
commits it `starting` and starts it through LocalHost. Before each instant,
in the same systemd while apsisd idles, the floor (floor.raw_round, as in
host_throughput.py): StartTransientUnit of /bin/true from one connection,
64 at once (LocalHost's own limit of calls in flight), each slot held until
its unit ended; the same with apsis's unit properties; and, up to 250 runs,
with each slot freed at the call's reply (what systemd takes in, which
apsisd's start path resembles: more would overflow systemd's bus limits).
Every figure counts exec starts (ExecMainStartTimestamp: for apsisd's runs
from their recorded lateness, which bench/lateness.py checks against the
bus; for the floor from the bus) per second, from the first start of the
round to its last. Two ratios: to the floor of plain units, and to raw starts
of the very units apsisd asks for. Target: apsisd >= 0.8 of the latter,
which is what apsisd itself adds; the gap between the two raw rows is what
apsis's unit settings cost systemd (mostly the ExecStopPost that keeps every
output line: docs/operations.md, "Every output line kept"). Also shown: the
rate from the due instant (or the floor's first call) to the last start, and
the rate at which apsisd recorded its runs `running`.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import math
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from floor import Daemon, RawRound, percentiles, raw_round, scratch, start_rate

from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.store.base import RunQuery

IN_FLIGHT = 64
# systemd tracks who asked for each job it has queued with a match rule on its own bus connection, 512 at most
# on the system bus (floor.raw_round): calls freed at their reply queue jobs faster than systemd runs them.
INTAKE_MAX = 250
TARGET = 0.8
TIMEOUT = 60  # seconds for a round's runs to finish


def job_text(instants: list[int]) -> str:
    times = ", ".join(f'"{datetime.fromtimestamp(t, UTC).isoformat()}"' for t in instants)
    return f"schedule: {{type: explicit, times: [{times}]}}\nprogram: [/bin/true]\n"


async def round_runs(daemon: Daemon, instant: int, runs: int) -> list[Run]:
    assert daemon.store is not None
    due = datetime.fromtimestamp(instant, UTC)
    return await daemon.store.runs(RunQuery(job_prefix="burst/", since=due, until=due + timedelta(seconds=1),
                                            limit=runs + 1))


async def wait_scheduled(daemon: Daemon, instants: list[int], runs: int) -> None:
    """Every run of every round created (the scheduler tops the jobs up after READY)."""
    async with asyncio.timeout(max(1.0, instants[0] - time.time() - 5)):
        while True:
            if len(await daemon.runs()) >= runs * len(instants):
                return
            await asyncio.sleep(0.2)


async def wait_finished(daemon: Daemon, instant: int, runs: int) -> list[Run]:
    """The round's runs once all have finished; looked at once a second, not to load the machine meanwhile."""
    found: list[Run] = []
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                await asyncio.sleep(1)
                found = await round_runs(daemon, instant, runs)
                if len(found) == runs and all(run.finished for run in found):
                    return found
    except TimeoutError:
        states = collections.Counter(str(run.state) for run in found)
        raise SystemExit(f"the round's runs did not all finish in {TIMEOUT} s: {dict(states)}\n"
                         + "\n".join(bus_trouble())) from None


def bus_trouble() -> list[str]:
    """What PID 1 and the bus said about a lost connection or a limit (a unit pinned with AddRef costs systemd a
    match rule on its bus connection, and the system bus allows 512)."""
    lines = subprocess.run(["journalctl", "--no-pager", "-o", "cat", "_PID=1", "+", "_COMM=dbus-daemon"],
                           capture_output=True, text=True, check=False).stdout.splitlines()
    said = collections.Counter(line for line in lines if "API bus" in line or "limits" in line)
    return [f"{count} x {line}" for line, count in said.items()]


def apsisd_starts(found: list[Run]) -> tuple[list[int], list[float]]:
    """The runs' exec starts (µs, from their lateness) and when apsisd recorded them running (s)."""
    starts = [round((run.schedule_time.timestamp() + run.lateness) * 1e6) for run in found if run.lateness is not None]
    running = [run.times[State.RUNNING].timestamp() for run in found if State.RUNNING in run.times]
    return starts, running


FLOOR = "raw StartTransientUnit, slot held to the unit's end (floor)"
SAME_UNITS = "raw, apsis unit properties"


def floor_paths(runs: int) -> dict[str, Callable[[], Awaitable[RawRound]]]:
    """The raw rounds measured before each instant, by name."""
    paths: dict[str, Callable[[], Awaitable[RawRound]]] = {
        FLOOR: lambda: raw_round(runs, IN_FLIGHT),
        SAME_UNITS: lambda: raw_round(runs, IN_FLIGHT, same_properties=True),
    }
    if runs <= INTAKE_MAX:
        paths["raw, slot freed at the reply (systemd's intake)"] = lambda: raw_round(runs, IN_FLIGHT, hold=False)
    return paths


async def measure(runs: int, rounds: int, gap: int, lead: int, keep: bool) -> None:
    paths = floor_paths(runs)
    floors: dict[str, list[RawRound]] = {name: [] for name in paths}
    rows: list[tuple[int, list[Run]]] = []
    with scratch("burst", keep) as folder:
        daemon = Daemon(folder)
        try:
            first = math.ceil(time.time()) + lead
            instants = [first + k * gap for k in range(rounds)]
            for i in range(runs):
                daemon.job(f"burst/b{i:04d}", job_text(instants))
            await raw_round(50, IN_FLIGHT)  # warm up systemd and the bench's side
            began = time.perf_counter()
            await daemon.start("--log-level", "info", timeout=lead)
            print(f"apsisd ready with {runs:,} jobs in {time.perf_counter() - began:.2f} s")
            await wait_scheduled(daemon, instants, runs)
            for instant in instants:
                for name, path in paths.items():
                    floors[name].append(await path())
                if time.time() > instant - 1:
                    raise SystemExit(f"the floor ran until {instant - time.time():.1f} s before the instant: "
                                     f"give a longer --gap (now {gap} s) or --lead (now {lead} s)")
                await asyncio.sleep(instant - time.time())
                rows.append((instant, await wait_finished(daemon, instant, runs)))
            assert await daemon.stop() == 0, daemon.log()[-3000:]
        finally:
            await daemon.close()
    report(runs, rounds, floors, rows)


def report(runs: int, rounds: int, floors: dict[str, list[RawRound]], rows: list[tuple[int, list[Run]]]) -> None:
    print(f"{runs:,} runs of /bin/true due at one instant, {rounds} rounds; exec starts per second "
          f"(first to last | from the due instant or first call to last); median of the rounds")
    print()
    print("| path | starts/s first to last | starts/s from due | ratio to floor | ratio to the same units raw "
          "| rounds (first to last) |")
    print("| --- | --- | --- | --- | --- | --- |")
    floor_rate = statistics.median(r.start_rate for r in floors[FLOOR])
    same_rate = statistics.median(r.start_rate for r in floors[SAME_UNITS])

    def row(name: str, rates: list[float], from_due: list[float], note: str = "") -> None:
        rate = statistics.median(rates)
        print(f"| {name} | {rate:,.0f} | {statistics.median(from_due):,.0f} | {rate / floor_rate:.2f} | "
              f"{rate / same_rate:.2f}{note} | " + " ".join(f"{r:,.0f}" for r in rates) + " |")

    for name, raws in floors.items():
        row(name, [r.start_rate for r in raws], [r.rate_from_first_call for r in raws])
    rates, from_due, recorded, late, outcomes = [], [], [], [], []
    for instant, found in rows:
        starts, running = apsisd_starts(found)
        rates.append(start_rate(starts))
        from_due.append(len(starts) / (max(starts) / 1e6 - instant))
        recorded.append((len(running) - 1) / (max(running) - min(running)))
        late.append((min(starts) / 1e6 - instant, *percentiles([s / 1e6 - instant for s in starts])))
        outcomes.append(f"{sum(run.state is State.SUCCESS for run in found)}/{len(found)} succeeded, "
                        f"{len(starts)} starts")
    verdict = "met" if statistics.median(rates) / same_rate >= TARGET else "missed"
    row("apsisd, due at one instant", rates, from_due, f" (target >= {TARGET}: {verdict})")
    row("apsisd, recorded `running`", recorded, from_due)
    print()
    for (instant, _), (first, p50, p99, top), outcome in zip(rows, late, outcomes, strict=True):
        print(f"round at {datetime.fromtimestamp(instant, UTC):%H:%M:%S}: {outcome}; lateness first/p50/p99/max "
              f"{first:.3f}/{p50:.3f}/{p99:.3f}/{top:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs due at each instant, one job each")
    parser.add_argument("--rounds", type=int, default=3, help="instants (at most 10: max_scheduled)")
    parser.add_argument("--gap", type=int, default=60, help="seconds between instants")
    parser.add_argument("--lead", type=int, default=90, help="seconds from launch to the first instant")
    parser.add_argument("--keep", action="store_true", help="leave apsisd's folder (jobs, state, log) in place")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be 1 to 10 (each job keeps at most 10 runs scheduled)")
    asyncio.run(measure(args.runs, args.rounds, args.gap, args.lead, args.keep))


if __name__ == "__main__":
    main()
