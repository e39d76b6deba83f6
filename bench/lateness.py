"""Benchmark: how late apsisd starts a run due every second, beside a systemd timer firing at the same instants.

    tools/sandbox.py run -- .venv/bin/python bench/lateness.py [--seconds 60] [--interval 1]

In one sandbox and one time window: apsisd with one job (`interval: 1s`,
program `true`), and a transient systemd timer (OnCalendar=*:*:*,
AccuracySec=1us, RandomizedDelaySec=0) whose service (Type=exec, /bin/true,
StartLimitIntervalSec=0, or systemd refuses 5 of every 10 starts) is
systemd's own path from a due instant to an exec. Both are measured alike:
each start's ExecMainStartTimestamp, as systemd reports it on the bus, minus
the nominal instant it was due at (a timer's start is put on the instant it
follows: true while it is less than an interval late). apsisd's own record
of each run's lateness (Run.lateness) is checked against the same figure.
Prints p50/p99/max of both and apsisd's ratios to the timer (target: p50 and
p99 within 1.2x); with under 100 samples p99 is the max.

With --interval N (a divisor of 60) both fire every N seconds instead
(OnCalendar=*:*:0/N): apsisd then waits N seconds between runs, as a
scheduler mostly does.

A third row, to split apsisd's figure: this process calling StartTransientUnit
itself (apsis's unit properties) half an interval after each instant, between
the others' so as not to compete with them: systemd's part of any client's
path, from the call to the exec.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import time
from collections.abc import Sequence

from floor import Daemon, UnitWatch, percentiles, scratch, start_transient

from agentd.systemd.units import object_path, unit_name
from apsisd.runs.model import Run
from apsisd.runs.state import State

TIMER = "apsis-bench-tick"  # systemd-run --unit: TIMER.timer and TIMER.service
TARGET = 1.2
WARM_UP = 2  # seconds after both started before the window opens


def start_timer(interval: int) -> None:
    subprocess.run(["systemd-run", "--quiet", f"--unit={TIMER}", f"--on-calendar=*:*:0/{interval}",
                    "--timer-property=AccuracySec=1us", "--timer-property=RandomizedDelaySec=0",
                    "--property=Type=exec", "--property=StartLimitIntervalSec=0", "/bin/true"],
                   check=True, capture_output=True, text=True)


def stop_timer() -> None:
    for unit in (f"{TIMER}.timer", f"{TIMER}.service"):
        subprocess.run(["systemctl", "stop", unit], check=False, capture_output=True)
        subprocess.run(["systemctl", "reset-failed", unit], check=False, capture_output=True)


async def raw_ticks(watch: UnitWatch, window: range) -> dict[int, str]:
    """StartTransientUnit half an interval after each instant of `window` (and one before, to warm up): the unit's
    path by instant."""
    paths = {}
    for second in range(window.start - window.step, window.stop, window.step):
        await asyncio.sleep(second + window.step / 2 - time.time())
        name = f"apsis-bench-raw-{second}.service"
        paths[second] = object_path(name)
        await start_transient(watch.bus, name, same_properties=True)
    return paths


def timer_lateness(starts: Sequence[int], window: range) -> dict[int, float]:
    """The timer's starts by the instant they were due at (µs timestamps -> seconds late), within `window`."""
    late = {}
    for start in starts:
        second = start // 1_000_000
        second -= second % window.step
        if second in window:
            late[second] = start / 1e6 - second
    return late


def apsisd_lateness(runs: Sequence[Run], watch: UnitWatch, window: range
                    ) -> tuple[dict[int, float], dict[int, float], list[float], list[str]]:
    """apsisd's runs due in `window`, by due second: seconds late as observed and as recorded (Run.lateness); due
    to `starting` (the scheduler woke and committed); and the runs without an observed start."""
    observed: dict[int, float] = {}
    recorded: dict[int, float] = {}
    to_starting: list[float] = []
    missing: list[str] = []
    for run in runs:
        due = run.schedule_time.timestamp()
        if int(due) not in window:
            continue
        starts = watch.starts(object_path(run.unit or unit_name(run.id)))
        if not starts:
            missing.append(f"{run.id} ({run.state}: {run.reason})")
            continue
        observed[int(due)] = starts[0] / 1e6 - due
        if run.lateness is not None:
            recorded[int(due)] = run.lateness
        if State.STARTING in run.times:
            to_starting.append(run.times[State.STARTING].timestamp() - due)
    return observed, recorded, to_starting, missing


def ms(values: Sequence[float]) -> str:
    return " | ".join(f"{v * 1000:.1f}" for v in percentiles(values))


async def measure(seconds: int, interval: int, keep: bool) -> None:
    with scratch("lateness", keep) as folder:
        watch = await UnitWatch.open()
        daemon = Daemon(folder)
        try:
            daemon.job("tick", f"""
                schedule: {{type: interval, interval: {interval}s}}
                program: "true"
            """)
            await daemon.start("--log-level", "info")
            start_timer(interval)
            first = math.ceil((time.time() + WARM_UP) / interval) * interval
            window = range(first, first + seconds, interval)
            raw_paths = await raw_ticks(watch, window)
            await asyncio.sleep(window.stop + 1.5 - time.time())  # the last second's starts have come in
            stop_timer()
            assert await daemon.stop() == 0, daemon.log()[-3000:]
            runs = await daemon.runs("tick")
        finally:
            stop_timer()
            await daemon.close()
            watch.close()
    timer = timer_lateness(watch.starts(object_path(f"{TIMER}.service")), window)
    raw = {second: starts[0] / 1e6 - (second + interval / 2) for second, path in raw_paths.items()
           if second in window and (starts := watch.starts(path))}
    observed, recorded, to_starting, missing = apsisd_lateness(runs, watch, window)
    report(window, timer, raw, observed, recorded, to_starting, missing)


def report(window: range, timer: dict[int, float], raw: dict[int, float], observed: dict[int, float],
           recorded: dict[int, float], to_starting: list[float], missing: list[str]) -> None:
    seconds, every = len(window) * window.step, "second" if window.step == 1 else f"{window.step} s"
    print(f"lateness of one run every {every} over {seconds} s: exec start (ExecMainStartTimestamp) minus the "
          f"nominal instant, ms; p99 is the max below 100 samples")
    print()
    print("| path | starts | p50 | p99 | max |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| systemd timer (*:*:0/{window.step}, AccuracySec=1us) | {len(timer)}/{len(window)} | "
          f"{ms(list(timer.values()))} |")
    print(f"| apsisd, interval {window.step}s | {len(observed)}/{len(window)} | {ms(list(observed.values()))} |")
    t50, t99, tmax = percentiles(list(timer.values()))
    a50, a99, amax = percentiles(list(observed.values()))
    verdict = "met" if a50 <= TARGET * t50 and a99 <= TARGET * t99 else "missed"
    print(f"| ratio apsisd / timer (target p50, p99 <= {TARGET}: {verdict}) | | {a50 / t50:.2f} | {a99 / t99:.2f} | "
          f"{amax / tmax:.2f} |")
    print(f"| apsisd: due to its `starting` transition (before the commit) | {len(to_starting)} | {ms(to_starting)} |")
    print(f"| raw StartTransientUnit half an interval later (apsis unit properties) | {len(raw)}/{len(window)} | "
          f"{ms(list(raw.values()))} |")
    print(f"| apsisd's own Run.lateness | {len(recorded)} | {ms(list(recorded.values()))} |")
    worst = max((abs(observed[second] - late) for second, late in recorded.items()), default=float("nan"))
    print()
    print(f"Run.lateness against the observed ExecMainStartTimestamp: {len(recorded)} runs, largest difference "
          f"{worst * 1e6:.0f} µs")
    if missing:
        print(f"apsisd runs due in the window with no observed start: {', '.join(missing)}")
    if len(timer) < len(window):
        print(f"the timer missed {len(window) - len(timer)} instants of the window")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="the window, in seconds (default 60)")
    parser.add_argument("--interval", type=int, default=1, help="seconds between runs, a divisor of 60 (default 1)")
    parser.add_argument("--keep", action="store_true", help="leave apsisd's folder (jobs, state, log) in place")
    args = parser.parse_args()
    if args.interval < 1 or 60 % args.interval:
        parser.error("--interval must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)")
    asyncio.run(measure(args.seconds, args.interval, args.keep))


if __name__ == "__main__":
    main()
