"""Crash campaign: apsisd under a steady mixed load, killed with SIGKILL at N random moments and restarted, with
systemd's own faults mixed in; then every run checked against the store, PID 1's journal and the programs' marks.

    tools/sandbox.py run -- .venv/bin/python bench/crash_campaign.py [--kills 100] [--seed S] [--faults 0.1]

The load (every program is bench/crash_program.sh, whose outcome and output
follow from its argv, which apsisd stores with the run):

- `tick`, every second, a few lines; its file is rewritten (the line count
  changes) and apsisd reloaded with SIGHUP every 1-4 s while it is up;
- `fail`, every second, in turn exit 1, 3, 77, death by SIGKILL, by SIGUSR1;
- `long`, three runs every 12 s that print a line every 0.5 s for 5, 12, 20 s;
- `chain/a` every 3 s (exit 0 and 4 in turn), whose success schedules
  `chain/b`, whose success schedules `chain/c`;
- ad hoc runs posted through the API every 0.5-2.5 s, random lengths and ends.

apsisd is started, and killed with SIGKILL after a random 0.2-3 s (so some
kills land in its startup and recovery), then started again at once or after
up to 2.5 s down. In a `--faults` fraction of those gaps PID 1 is made to
`daemon-reload`, `daemon-reexec`, or journald is restarted (each kind once in
every three faults). After the last kill apsisd is started once more, every
job's schedule is removed (a reload through the API), and everything is left
to end. campaign_check.py then checks and counts: lost, doubled, wrong,
incomplete, stuck (its docstring says how each is found). Exit status 1 when
any is not 0, 2 when apsisd did not come up at the end. See docs/operations.md, "The crash campaign".
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from campaign_check import Evidence, Life, Load, Post, check, journal_records, journald_stops, marks_of
from floor import Daemon, scratch

from tests.integration.api import SOCKET

PROGRAM = Path(__file__).resolve().parent / "crash_program.sh"
ADHOC = "campaign-adhoc"
FAULTS = {
    "daemon-reload": ["systemctl", "daemon-reload"],
    "daemon-reexec": ["systemctl", "daemon-reexec"],
    "journald-restart": ["systemctl", "restart", "systemd-journald"],
}
# Run numbers from here: apart from the tests' apsisd (10,000 apart each) that ran before in this sandbox, whose units
# are in its journal (Daemon hands out the numbers below it at once: not much higher).
FIRST_RUN = 2_000_000
START_TIMEOUT = 60.0  # seconds for an apsisd to say READY=1 before the end


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    interval: int
    phase: int
    args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDef:
    """One job of the load; `lines` may be a template, the rest are fixed."""

    job_id: str
    schedules: tuple[Schedule, ...] = ()
    params: tuple[str, ...] = ()
    lines: str = "3"
    pause: str = "0"
    end: str = "0"
    successor: str | None = None

    def text(self, marks: Path, *, scheduled: bool = True, lines: str | None = None) -> str:
        argv = ["/bin/sh", str(PROGRAM), str(marks), "{{ run_id }}", lines or self.lines, self.pause, self.end,
                self.job_id]
        schedules = [{"type": "interval", "interval": s.interval, "phase": s.phase, **({"args": s.args} if s.args
                                                                                    else {})}
                     for s in self.schedules] if scheduled else []
        text = f"params: {json.dumps(list(self.params))}\nschedule: {json.dumps(schedules)}\n" \
               f"program: {json.dumps(argv)}\n"
        return text + (f"successors: {self.successor}\n" if self.successor else "")


JOBS = (
    JobDef(job_id="tick", schedules=(Schedule(interval=1, phase=0),)),
    JobDef(job_id="fail", params=("end",), lines="4", pause="0.1", end="{{ end }}",
           schedules=tuple(Schedule(interval=5, phase=k, args={"end": end})
                           for k, end in enumerate(("1", "3", "77", "sigKILL", "sigUSR1")))),
    JobDef(job_id="long", params=("lines",), lines="{{ lines }}", pause="0.5",
           schedules=tuple(Schedule(interval=12, phase=4 * k, args={"lines": lines})
                           for k, lines in enumerate(("10", "24", "40")))),
    JobDef(job_id="chain/a", params=("time", "end"), lines="2", end="{{ end }}", successor="chain/b",
           schedules=(Schedule(interval=6, phase=0, args={"end": "0"}), Schedule(interval=6, phase=3,
                                                                                  args={"end": "4"}))),
    JobDef(job_id="chain/b", params=("time",), lines="3", pause="0.3", successor="chain/c"),
    JobDef(job_id="chain/c", params=("time",), lines="2"),
)
TICK_LINES = ("2", "3", "4")  # tick's line count, in turn at each reload


class Campaign:
    """apsisd's lives, the load around them, and what was done to it, in order."""

    def __init__(self, daemon: Daemon, marks: Path, rng: random.Random, settle: float) -> None:
        self.daemon = daemon
        self.marks = marks
        self.rng = rng
        self.settle_time = settle
        self.lives: list[Life] = []
        self.posts: list[Post] = []
        self.faults: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.reloads = 0
        self.version = 0
        self._ready: asyncio.Task[None] | None = None
        self._stopping = False

    def write_jobs(self, *, scheduled: bool = True) -> None:
        for job in JOBS:
            lines = TICK_LINES[self.version % len(TICK_LINES)] if job.job_id == "tick" else None
            path = self.daemon.jobs / f"{job.job_id}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            hidden = path.with_name(f".{path.name}")  # skipped by apsisd: the rename makes the change whole
            hidden.write_text(job.text(self.marks, scheduled=scheduled, lines=lines))
            hidden.rename(path)

    @property
    def life(self) -> Life:
        return self.lives[-1]

    def ready(self) -> bool:
        return bool(self.lives) and self.life.ready is not None and self.life.kill is None

    async def start(self) -> None:
        self.note(f"life {len(self.lives)}: started")
        since = len(self.daemon.messages)
        self.lives.append(Life(spawn=time.time()))
        await self.daemon.start(ready=False)
        self._ready = asyncio.create_task(self._wait_ready(self.life, since), name=f"ready:{len(self.lives)}")

    async def _wait_ready(self, life: Life, since: int) -> None:
        try:
            await self.daemon.wait_for_message("READY=1", timeout=START_TIMEOUT, since=since)
        except (AssertionError, TimeoutError):
            return
        life.ready = time.time()

    async def kill(self) -> None:
        assert self._ready is not None
        self._ready.cancel()
        self.life.kill = time.time()
        await self.daemon.kill()
        self.note(f"life {len(self.lives) - 1}: killed")

    def note(self, text: str) -> None:
        """A line in apsisd's log between its own, to find a moment in it afterwards."""
        with self.daemon.log_file.open("a") as log:
            log.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S,%f} === campaign: {text}\n")

    async def fault(self, name: str) -> None:
        self.note(f"fault {name}")
        process = await asyncio.create_subprocess_exec(*FAULTS[name], stdout=subprocess.DEVNULL,
                                                       stderr=subprocess.DEVNULL)
        async with asyncio.timeout(60):
            code = await process.wait()
        if code != 0:
            raise SystemExit(f"{' '.join(FAULTS[name])} failed with {code}")
        self.faults[name] += 1

    async def post_adhoc(self, rng: random.Random) -> None:
        """Ad hoc runs through the API while apsisd is up; a post cut by a kill is recorded as not acknowledged."""
        while not self._stopping:
            await asyncio.sleep(rng.uniform(0.5, 2.5))
            if not self.ready():
                continue
            tag = f"adhoc-{len(self.posts)}"
            argv = ["/bin/sh", str(PROGRAM), str(self.marks), "{{ run_id }}", str(rng.randint(1, 30)),
                    rng.choice(["0", "0.1", "0.3"]), rng.choice(["0", "0", "0", "2", "9", "sigKILL"]), tag]
            post = Post(tag=tag, sent=time.time())
            self.posts.append(post)
            try:
                async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET),
                                                 timeout=aiohttp.ClientTimeout(total=20)) as client, \
                        client.post("http://apsis/api/v1/runs", json={"program": argv, "name": ADHOC}) as reply:
                    if reply.status == 201:
                        post.run_id = (await reply.json())["runs"][0]["run_id"]
                    else:
                        post.refused = f"{reply.status} {await reply.text()}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                post.refused = f"{type(exc).__name__}: {exc}"

    async def reload_now_and_then(self, rng: random.Random) -> None:
        """tick's file changed and SIGHUP, every 1-4 s while apsisd is up (its folder watch may reload too)."""
        while not self._stopping:
            await asyncio.sleep(rng.uniform(1, 4))
            if self.ready() and not self._stopping:
                self.version += 1
                self.write_jobs()
                self.daemon.signal(signal.SIGHUP)
                self.reloads += 1

    async def run(self, kills: int, faults: int) -> None:
        """The kills, each after a random gap; `faults` of the gaps also hold a fault, at a random moment."""
        rng = self.rng
        with_fault = sorted(rng.sample(range(kills), min(faults, kills)))
        # Each kind once in every three faults, in a random order: a short campaign meets them all.
        kinds = dict(zip(with_fault, [name for _ in range(0, faults, len(FAULTS))
                                      for name in rng.sample(sorted(FAULTS), len(FAULTS))], strict=False))
        self.write_jobs()
        await self.start()
        load = [asyncio.create_task(self.post_adhoc(random.Random(rng.random())), name="adhoc"),
                asyncio.create_task(self.reload_now_and_then(random.Random(rng.random())), name="reloads")]
        for k in range(kills):
            gap = rng.uniform(0.2, 3.0)
            if k in with_fault:
                before = rng.uniform(0, gap)
                await asyncio.sleep(before)
                await self.fault(kinds[k])
                await asyncio.sleep(gap - before)
            else:
                await asyncio.sleep(gap)
            await self.kill()
            await asyncio.sleep(rng.uniform(0, 2.5) if rng.random() < 0.5 else 0)
            await self.start()
        await self.last_ready()
        self._stopping = True
        await asyncio.gather(*load)

    async def finish(self) -> tuple[float, float]:
        """Every schedule removed through the API (as one reload): when it was asked and answered."""
        self.write_jobs(scheduled=False)
        asked = time.time()
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET),
                                         timeout=aiohttp.ClientTimeout(total=30)) as client, \
                client.post("http://apsis/api/v1/reload") as reply:
            body = await reply.json()
            # Not applied and nothing wrong: the jobs folder's watch took the files in first (between asked and
            # answered, which is all the checks need).
            if reply.status != 200 or body.get("errors"):
                raise SystemExit(f"the last reload failed: {reply.status} {body}")
        return asked, time.time()

    async def settle(self) -> None:
        """Until every run has ended and no unit of apsis is left (or the settling time has passed: the checks count
        the rest)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settle_time):
                while True:
                    runs = await self.daemon.runs()
                    if all(run.finished for run in runs) and not await asyncio.to_thread(units_left):
                        return
                    await asyncio.sleep(0.5)

    async def last_ready(self) -> None:
        """The last apsisd up (READY=1), or the campaign ends here with its log."""
        assert self._ready is not None
        await self._ready
        if self.life.ready is None:
            print(f"the last apsisd did not get ready\n--- apsisd log ---\n{self.daemon.log()[-4000:]}")
            raise SystemExit(2)


def units_left() -> dict[str, str]:
    """Each apsis unit still loaded, with what systemd says of it (to tell why it stays)."""
    out = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "apsis-*"],
                         capture_output=True, text=True, check=True).stdout
    units = [line.split()[0] for line in out.splitlines() if line.strip()]
    found = {}
    for unit in units:
        show = subprocess.run(["systemctl", "show", "-p", "LoadState,ActiveState,SubState,Result,Refs,TriggeredBy,"
                               "NeedDaemonReload,StateChangeTimestamp", unit], capture_output=True, text=True)
        found[unit] = ", ".join(line for line in show.stdout.splitlines() if not line.endswith("="))
    return found


async def outputs(run_ids: Sequence[str]) -> dict[str, bytes | str]:
    """Each run's output through the API (4 at a time), or why it could not be read."""
    found: dict[str, bytes | str] = {}
    slots = asyncio.Semaphore(4)

    async def one(client: aiohttp.ClientSession, run_id: str) -> None:
        async with slots, client.get(f"http://apsis/api/v1/runs/{run_id}/output") as reply:
            found[run_id] = await reply.read() if reply.status == 200 else f"{reply.status} {await reply.text()}"

    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET),
                                     timeout=aiohttp.ClientTimeout(total=120)) as client:
        await asyncio.gather(*(one(client, run_id) for run_id in run_ids))
    return found


async def campaign(kills: int, seed: int, faults: int, settle: float, keep: bool) -> int:
    print(f"crash campaign: {kills} kills, {faults} systemd faults, seed {seed}")
    with scratch("crash-campaign", keep) as folder:
        marks = folder / "marks"
        marks.mkdir()
        daemon = Daemon(folder, first_run=FIRST_RUN)
        run = Campaign(daemon, marks, random.Random(seed), settle)
        began = datetime.now(UTC)
        try:
            await run.run(kills, faults)
            final = await run.finish()
            await run.settle()
            await asyncio.to_thread(subprocess.run, ["journalctl", "--sync"], check=True, timeout=60)
            runs = await daemon.runs()
            ran = [r.id for r in runs if r.unit or r.invocation_id]
            evidence = Evidence(
                lives=run.lives, final=final, runs=runs, posts=run.posts, marks=marks_of(marks),
                journal=await asyncio.to_thread(journal_records, began),
                journald_stops=await asyncio.to_thread(journald_stops, began), outputs=await outputs(ran),
                units_left=await asyncio.to_thread(units_left), logs={r.id: await daemon.entries(r.id) for r in runs},
                apsisd_log=daemon.log())
            report = check(Load(jobs=JOBS, adhoc=ADHOC, program=str(PROGRAM)), evidence)
            print(report.text(kills=kills, faults=run.faults, reloads=run.reloads))
            await daemon.stop()
        finally:
            await daemon.close()
        if report.failed and not keep:
            keep_folder(folder)
    return 1 if report.failed else 0


def keep_folder(folder: Path) -> None:
    """A failed campaign's folder (apsisd's log and database, the marks) is worth keeping for the diagnosis."""
    kept = folder.with_name(folder.name + "-failed")
    subprocess.run(["cp", "-a", str(folder), str(kept)], check=False)
    print(f"kept {kept}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=100, help="how many times apsisd is killed (SIGKILL)")
    parser.add_argument("--seed", type=int, default=None, help="the random seed (default: a new one, printed)")
    parser.add_argument("--faults", type=float, default=0.1,
                        help="the fraction of the gaps between kills that also hold a systemd fault")
    parser.add_argument("--settle", type=float, default=120.0,
                        help="seconds for every run to end at the end (the longest take 20 s); the rest are stuck")
    parser.add_argument("--keep", action="store_true", help="leave the campaign's folder in place")
    args = parser.parse_args()
    if args.kills < 1 or not 0 <= args.faults <= 1:
        parser.error("--kills must be at least 1 and --faults between 0 and 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    sys.exit(asyncio.run(campaign(args.kills, seed, round(args.faults * args.kills), args.settle, args.keep)))


if __name__ == "__main__":
    main()
