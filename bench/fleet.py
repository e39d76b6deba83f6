"""Benchmark: one apsisd driving a fleet of remote hosts under chaos, beside the same load on its own host.

    tools/sandbox.py run --hosts 50 --raise-inotify-limit -- .venv/bin/python bench/fleet.py
        [--minutes 5] [--jobs 100] [--every 6] [--chaos-every 5] [--settle 60] [--seed N] [--keep]

(51 systemds need more inotify instances than Debian's default cap allows
root; the flag raises it for the run and puts it back: tools/sandbox_inotify.py.)

The peers are the sandbox's (tests/sandbox_hosts.peers()). One apsisd has
each as `[hosts.pN]` (apsis's key, the run's known_hosts, keep-alives every
2 s) and all of them as `[host_groups.fleet]`. `--jobs` jobs, each every
`--every` seconds with phases spread evenly over the interval (100 every 6 s:
1,000 runs a minute, one every 60 ms), program `echo`, `host: fleet`, for
`--minutes`. Meanwhile, every `--chaos-every` seconds, one peer not already
cut is picked at random and either has its link cut for 3 to 15 s or has
its agentd killed (`pkill -KILL -f` through the control key). Then the same
jobs with `host: local`, for as long, no chaos: the floor, measured in the
same run.

A slot is a job's schedule instant inside the window. Reported, per phase:
runs lost (a slot with no run), doubled (a slot with two runs, or a unit
that PID 1 of its host logged "Started" twice: the journal of every peer,
and the main sandbox's for the floor), stuck (not finished `--settle`
seconds after the window), finished not in success, lateness (Run.lateness:
the program's start minus its schedule time) p50/p99/max, for all runs and
for those on a host with no chaos in the RECOVERY seconds before they were
due (a run due while its link is cut waits for it: that is chaos's cost,
not apsisd's), and remote over local (target: p99 within 2x); apsisd's CPU
seconds in the window and its peak RSS, and the CPU of its children (ssh)
in the window. Apart: the time a RemoteHost (agentd.remote) takes to become
reachable on each peer, one at a time and all at once. Exits 1 if a run was
lost or doubled.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floor import Daemon, percentiles, scratch

from agentd.remote.host import RemoteHost
from agentd.remote.link import Link, ProcessLink
from agentd.remote.ssh import explainer, ssh_argv
from apsisd.runs.model import Run
from apsisd.runs.state import State
from tests.sandbox_hosts import HOSTS_ENV, SandboxPeer, on_peer, peers, set_link

TARGET = 2.0  # remote p99 lateness within this many times local's
WARM_UP = 10.0  # seconds after apsisd is ready (and every link made) before the window opens
KEEPALIVE = 2  # seconds between ssh keep-alives; 3 unanswered end a cut link's ssh
CUT = (3.0, 15.0)  # seconds a link stays cut
RECOVERY = 30.0  # seconds after a cut or kill that its host's runs count as disturbed (keep-alives, back-off)
STARTED = "39f53479d3a045ac8e11786248231fbf"  # PID 1's "Started <unit>" journal message
# A run's unit: local `apsis-r12.service`, remote `apsis-<scheduler>\x2dr12.service` (the run id `<scheduler>-r12`,
# escaped as systemd escapes a unit name's "-").
UNIT = re.compile(r"apsis-(?:[a-z0-9]+\\x2d)?(r\d+)\.service")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
SETUP_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Load:
    """`jobs` jobs every `every` seconds, their phases spread evenly over it (a steady rate, not a burst each
    interval), for `seconds`."""

    jobs: int
    every: float
    seconds: int

    def phase(self, job: int) -> float:
        """The job's phase, in seconds to the ms (as its YAML writes it)."""
        return round(job * self.every / self.jobs, 3)

    def slots(self, window: tuple[float, float]) -> set[tuple[str, int]]:
        """(job, due instant in ms) of every schedule instant inside the window."""
        slots = set()
        for job in range(self.jobs):
            due = math.ceil((window[0] - self.phase(job)) / self.every) * self.every + self.phase(job)
            while due < window[1]:
                slots.add((f"j{job}", round(due * 1000)))
                due += self.every
        return slots


@dataclass(slots=True, kw_only=True)
class Phase:
    """What one phase measured."""

    name: str
    slots: int = 0
    lost: list[tuple[str, int]] = field(default_factory=list)
    doubled_slots: list[list[str]] = field(default_factory=list)
    doubled_units: dict[str, int] = field(default_factory=dict)  # run id -> "Started" records
    stuck: list[Run] = field(default_factory=list)
    not_success: list[Run] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    calm_lateness: list[float] = field(default_factory=list)  # of runs on a host with no chaos in RECOVERY before
    journal_started: int = 0  # runs of the window whose unit's "Started" the journals hold: the instrument works
    chaos: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: collections.defaultdict(list))
    cpu: float = 0.0
    children_cpu: float = 0.0
    peak_rss_mb: float = 0.0
    cuts: int = 0
    kills: int = 0
    kills_found: int = 0  # kills that found an agentd to kill
    failed_chaos: list[str] = field(default_factory=list)

    @property
    def broken(self) -> bool:
        return bool(self.lost or self.doubled_slots or self.doubled_units)


# -- apsisd's resources, from /proc ------------------------------------------------

def cpu_seconds(pid: int) -> tuple[float, float]:
    """The process's own CPU seconds, and its children's (those reaped, and those alive now)."""
    own = _stat(pid)
    children = own[2] + own[3]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    child = _stat(int(entry.name))
                    children += child[0] + child[1]
            except (OSError, ValueError):
                continue  # gone meanwhile
    return (own[0] + own[1]) / CLOCK_TICK, children / CLOCK_TICK


def _stat(pid: int) -> list[int]:
    """utime, stime, cutime, cstime (ticks) of /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return [int(value) for value in fields[11:15]]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- doubled starts, from the journals ---------------------------------------------

def started_units(journal_json: str) -> dict[str, set[str]]:
    """Run id -> the cursors of PID 1's "Started" records of its unit, from `journalctl -o json` lines."""
    starts: dict[str, set[str]] = collections.defaultdict(set)
    for line in journal_json.splitlines():
        record = json.loads(line)
        if (match := UNIT.fullmatch(record.get("UNIT", ""))) is not None:
            starts[match[1]].add(record["__CURSOR"])
    return starts


JOURNALCTL = ("journalctl", "--no-pager", "-o", "json", "--output-fields=UNIT", "_PID=1", f"MESSAGE_ID={STARTED}")


def unit_starts(journals: Iterable[str], run_ids: set[str]) -> dict[str, int]:
    """Of `run_ids`, those whose unit was started, and how often, over all the journals (a record read in two
    journals, as a shared journal folder would show it, counts once: by its cursor)."""
    starts: dict[str, set[str]] = collections.defaultdict(set)
    for journal in journals:
        for run_id, cursors in started_units(journal).items():
            starts[run_id] |= cursors
    return {run_id: len(cursors) for run_id, cursors in starts.items() if run_id in run_ids}


async def peer_journals(fleet: Sequence[SandboxPeer]) -> list[str]:
    journals = []
    for peer in fleet:
        proc = await asyncio.to_thread(on_peer, peer, JOURNALCTL, None, 120.0)
        if proc.returncode != 0:
            raise SystemExit(f"journalctl on {peer.name} failed: {proc.stderr}")
        journals.append(proc.stdout)
    return journals


def local_journal() -> list[str]:
    return [subprocess.run(JOURNALCTL, check=True, capture_output=True, text=True, timeout=120).stdout]


# -- chaos ---------------------------------------------------------------------------

async def chaos(fleet: Sequence[SandboxPeer], every: float, until: float, rng: random.Random, phase: Phase) -> None:
    """Every `every` seconds until `until` (wall clock): a link cut or an agentd killed, on a peer not cut now."""
    cut: set[str] = set()

    async def cut_link(peer: SandboxPeer) -> None:
        cut.add(peer.name)
        try:
            began = time.time()
            await asyncio.to_thread(set_link, peer, False)
            await asyncio.sleep(rng.uniform(*CUT))
        finally:
            await asyncio.to_thread(set_link, peer, True)
            cut.discard(peer.name)
            phase.chaos[peer.name].append((began, time.time()))

    async def kill_agentd(peer: SandboxPeer) -> None:
        # "[a]gentd": the pattern must not match the shell sshd runs pkill in, whose command line holds it.
        began = time.time()
        proc = await asyncio.to_thread(on_peer, peer, ["pkill", "-KILL", "-f", "[a]gentd serve"])
        phase.chaos[peer.name].append((began, time.time()))
        phase.kills_found += proc.returncode == 0
        if proc.returncode not in (0, 1):  # 1: no agentd there (its link is being made again)
            phase.failed_chaos.append(f"kill on {peer.name}: {proc.returncode} {proc.stderr.strip()}")

    async with asyncio.TaskGroup() as group:
        while time.time() + every < until:
            await asyncio.sleep(every)
            ready = [peer for peer in fleet if peer.name not in cut]
            if not ready:
                continue
            peer = rng.choice(ready)
            if rng.random() < 0.5:
                phase.cuts += 1
                group.create_task(cut_link(peer), name=f"cut:{peer.name}")
            else:
                phase.kills += 1
                group.create_task(kill_agentd(peer), name=f"kill:{peer.name}")


# -- one phase -------------------------------------------------------------------------

def fleet_config(fleet: Sequence[SandboxPeer], folder: Path) -> str:
    known_hosts = folder / "known_hosts"
    known_hosts.write_text("".join(dict.fromkeys(peer.known_hosts.read_text() for peer in fleet)))
    hosts = "".join(f"""
        [hosts.{peer.name}]
        ssh = "root@{peer.address}"
        identity = "{peer.apsis_key}"
        keepalive_interval = "{KEEPALIVE}s"
        keepalive_count = 3
        """ for peer in fleet)
    names = ", ".join(f'"{peer.name}"' for peer in fleet)
    return f"""
        [ssh]
        known_hosts = "{known_hosts}"
        {hosts}
        [host_groups.fleet]
        hosts = [{names}]
        """


async def run_phase(name: str, host: str, load: Load, settle: float, folder: Path, *,
                    journals: Callable[[], Awaitable[list[str]]], config: Callable[[Path], str] | None = None,
                    disrupt: Callable[[float, Phase], Coroutine[Any, Any, None]] | None = None, links: int = 0
                    ) -> Phase:
    """The load on `host` (apsisd.toml from `config`, `disrupt` beside the window), accounted; the window opens
    WARM_UP seconds after apsisd has made its `links` links to remote hosts."""
    phase = Phase(name=name)
    daemon = Daemon(folder)
    try:
        for job in range(load.jobs):
            daemon.job(f"j{job}", f"""
                schedule: {{type: interval, interval: {load.every}, phase: {load.phase(job)}}}
                program: "echo j{job} $(hostname)"
                host: {host}
            """)
        args = daemon.config(config(folder)) if config is not None else ()
        await daemon.start(*args, "--log-level", "info", timeout=120.0)
        await daemon.wait_log("action=host_reachable", count=links, timeout=300.0)
        assert daemon.process is not None
        pid = daemon.process.pid
        opens = math.ceil(time.time() + WARM_UP)
        window = (float(opens), float(opens + load.seconds))
        await asyncio.sleep(window[0] - time.time())
        cpu_before = cpu_seconds(pid)
        async with asyncio.TaskGroup() as group:
            if disrupt is not None:
                group.create_task(disrupt(window[1], phase), name=f"chaos:{name}")
            await asyncio.sleep(max(0.0, window[1] - time.time()))
            cpu_after = cpu_seconds(pid)
            phase.peak_rss_mb = peak_rss_mb(pid)
        phase.cpu, phase.children_cpu = (after - before for after, before in zip(cpu_after, cpu_before, strict=True))
        runs = await settled(daemon, window, settle)
        assert await daemon.stop() == 0, daemon.log()[-3000:]
        account(phase, load.slots(window), runs, await journals())
    finally:
        await daemon.close()
    return phase


async def settled(daemon: Daemon, window: tuple[float, float], settle: float) -> list[Run]:
    """The runs due in the window, once all have finished or `settle` seconds after the window."""
    deadline = window[1] + settle
    while True:
        runs = [run for run in await daemon.runs() if window[0] <= run.schedule_time.timestamp() < window[1]]
        if all(run.finished for run in runs) or time.time() > deadline:
            return runs
        await asyncio.sleep(1.0)


def account(phase: Phase, slots: set[tuple[str, int]], runs: Sequence[Run], journals: Sequence[str]) -> None:
    by_slot: dict[tuple[str, int], list[Run]] = collections.defaultdict(list)
    for run in runs:
        by_slot[(run.job_id, round(run.schedule_time.timestamp() * 1000))].append(run)
    phase.slots = len(slots)
    phase.lost = sorted(slots - by_slot.keys())
    phase.doubled_slots = [[run.id for run in slot] for slot in by_slot.values() if len(slot) > 1]
    starts = unit_starts(journals, {run.id for run in runs})
    phase.journal_started = len(starts)
    phase.doubled_units = {run_id: count for run_id, count in starts.items() if count > 1}
    phase.stuck = [run for run in runs if not run.finished]
    phase.not_success = [run for run in runs if run.finished and run.state is not State.SUCCESS]
    phase.lateness = [run.lateness for run in runs if run.lateness is not None]
    phase.calm_lateness = [run.lateness for run in runs if run.lateness is not None and not disturbed(phase, run)]


def disturbed(phase: Phase, run: Run) -> bool:
    """Whether the run's host had its link cut or its agentd killed in the RECOVERY seconds before it was due (or
    while it was due)."""
    due = run.schedule_time.timestamp()
    return any(began <= due <= ended + RECOVERY for began, ended in phase.chaos.get(run.host or "", ()))


# -- connection set-up -------------------------------------------------------------------

async def set_up_time(peer: SandboxPeer) -> float | str:
    """Seconds from RemoteHost.open() until it is reachable (agentd's hello answered), or why it never was."""
    target = peer.target()
    argv = ssh_argv(target)

    async def connect() -> Link:
        return await ProcessLink.spawn(argv, peer.name)

    host = RemoteHost(peer.name, connect, scheduler="fleetbench", explain=explainer(peer.name, target))
    began = time.perf_counter()
    async with host:
        deadline = began + SETUP_TIMEOUT
        while not host.reachable:
            if time.perf_counter() > deadline:
                return host.problem
            await asyncio.sleep(0.002)
        return time.perf_counter() - began


async def set_up_times(fleet: Sequence[SandboxPeer]) -> tuple[list[float | str], list[float | str]]:
    """Each peer's set-up time, one at a time, then all at once."""
    alone = [await set_up_time(peer) for peer in fleet]
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(set_up_time(peer), name=f"set-up:{peer.name}") for peer in fleet]
    return alone, [task.result() for task in tasks]


# -- report ---------------------------------------------------------------------------------

def ms(values: Sequence[float]) -> list[str]:
    return [f"{v * 1000:.1f}" for v in percentiles(values)] if values else ["-"] * 3


def report(load: Load, hosts: int, remote: Phase, local: Phase, setup: tuple[list[float | str], list[float | str]]
           ) -> None:
    print(f"{load.jobs} jobs every {load.every:g} s ({load.jobs * 60 / load.every:.0f} runs a minute) for "
          f"{load.seconds} s: on a group of {hosts} remote hosts with chaos ({remote.cuts} link cuts of "
          f"{CUT[0]:g} to {CUT[1]:g} s, {remote.kills} agentd kills of which {remote.kills_found} found one), "
          f"then on the local host")
    print()
    print("| | remote | local |")
    print("| --- | --- | --- |")
    rows: list[tuple[str, Callable[[Phase], object]]] = [
        ("schedule slots in the window", lambda p: p.slots),
        ("runs lost (slot with no run; must be 0)", lambda p: len(p.lost)),
        ("runs doubled (slot with 2 runs, or unit started twice; must be 0)",
         lambda p: len(p.doubled_slots) + len(p.doubled_units)),
        ("runs stuck (not finished after the settle time)", lambda p: len(p.stuck)),
        ("runs finished not in success", lambda p: len(p.not_success)),
        ("runs whose unit's start the journal shows (the doubled count's instrument)", lambda p: p.journal_started),
        ("lateness p50 ms", lambda p: ms(p.lateness)[0]),
        ("lateness p99 ms", lambda p: ms(p.lateness)[1]),
        ("lateness max ms", lambda p: ms(p.lateness)[2]),
        (f"runs on a host with no chaos in the {RECOVERY:g} s before due", lambda p: len(p.calm_lateness)),
        ("their lateness p50 ms", lambda p: ms(p.calm_lateness)[0]),
        ("their lateness p99 ms", lambda p: ms(p.calm_lateness)[1]),
        ("apsisd CPU s in the window", lambda p: f"{p.cpu:.1f}"),
        ("its children's (ssh) CPU s in the window", lambda p: f"{p.children_cpu:.1f}"),
        ("apsisd peak RSS MB", lambda p: f"{p.peak_rss_mb:.0f}"),
    ]
    for label, value in rows:
        print(f"| {label} | {value(remote)} | {value(local)} |")
    for label, samples in (("all runs", remote.lateness), ("runs with no chaos before", remote.calm_lateness)):
        if samples and local.lateness:
            ratio = percentiles(samples)[1] / percentiles(local.lateness)[1]
            verdict = "met" if ratio <= TARGET else "missed"
            print(f"| lateness p99 remote / local, {label} (target <= {TARGET:g}: {verdict}) | {ratio:.2f} | |")
    print()
    print("| RemoteHost set-up, until reachable | hosts | p50 ms | p99 ms | max ms | failed |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, times in zip(("one at a time", "all at once"), setup, strict=True):
        done = [t for t in times if isinstance(t, float)]
        print(f"| {label} | {len(times)} | {' | '.join(ms(done))} | {len(times) - len(done)} |")
    for phase in (remote, local):
        details(phase)


def details(phase: Phase, most: int = 20) -> None:
    """What went wrong in the phase, by run id."""
    lines = [f"lost: {job} due {time.strftime('%H:%M:%S', time.gmtime(due / 1000))}.{due % 1000:03d}"
             for job, due in phase.lost[:most]]
    lines += [f"doubled slot: runs {', '.join(ids)}" for ids in phase.doubled_slots[:most]]
    lines += [f"doubled unit: run {run_id} started {count} times" for run_id, count in
              list(phase.doubled_units.items())[:most]]
    lines += [f"stuck: {run.id} on {run.host}, {run.state}: {run.reason}" for run in phase.stuck[:most]]
    lines += [f"not success: {run.id} on {run.host}, {run.state}: {run.reason}" for run in phase.not_success[:most]]
    lines += [f"chaos failed: {why}" for why in phase.failed_chaos[:most]]
    if phase.journal_started < len(phase.lateness):
        lines.append(f"the journals show the start of only {phase.journal_started} of the {len(phase.lateness)} "
                     f"runs that started: the count of units started twice saw only those")
    if lines:
        print()
        print(f"{phase.name}:")
        for line in lines:
            print(f"- {line}")


# -- main -----------------------------------------------------------------------------------

async def measure(args: argparse.Namespace) -> int:
    fleet = peers()[:args.hosts] if args.hosts else peers()
    load = Load(jobs=args.jobs, every=args.every, seconds=round(args.minutes * 60))
    rng = random.Random(args.seed)
    setup = await set_up_times(fleet)

    async def disrupt(until: float, phase: Phase) -> None:
        await chaos(fleet, args.chaos_every, until, rng, phase)

    async def fleet_journals() -> list[str]:
        return await peer_journals(fleet)

    async def own_journal() -> list[str]:
        return await asyncio.to_thread(local_journal)

    with scratch("fleet", args.keep) as folder:
        remote = await run_phase("remote", "fleet", load, args.settle, folder / "remote", journals=fleet_journals,
                                 config=lambda where: fleet_config(fleet, where), disrupt=disrupt, links=len(fleet))
        local = await run_phase("local", "local", load, args.settle, folder / "local", journals=own_journal)
    report(load, len(fleet), remote, local, setup)
    return 1 if remote.broken or local.broken else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=0, help="use this many of the sandbox's peers (default all)")
    parser.add_argument("--jobs", type=int, default=100, help="jobs, phases spread over the interval (default 100)")
    parser.add_argument("--every", type=float, default=6.0, help="each job's interval, seconds (default 6)")
    parser.add_argument("--minutes", type=float, default=5.0, help="the window of each phase (default 5)")
    parser.add_argument("--chaos-every", type=float, default=5.0,
                        help="seconds between two link cuts or agentd kills (default 5)")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="seconds after the window for its runs to finish before they count as stuck (default 60)")
    parser.add_argument("--seed", type=int, default=None, help="the chaos's random seed (default: a new one)")
    parser.add_argument("--keep", action="store_true", help="leave apsisd's folders (jobs, state, log) in place")
    args = parser.parse_args()
    if args.jobs < 1 or args.every <= 0 or args.minutes <= 0 or args.chaos_every <= 0:
        parser.error("--jobs, --every, --minutes and --chaos-every must be positive")
    if not os.environ.get(HOSTS_ENV):
        parser.error(f"no peer hosts (${HOSTS_ENV} unset): run it as "
                     "tools/sandbox.py run --hosts 50 --raise-inotify-limit -- .venv/bin/python bench/fleet.py")
    sys.exit(asyncio.run(measure(args)))


if __name__ == "__main__":
    main()
