"""The crash campaign's verdict: what apsisd recorded, held against what the programs and PID 1 say happened.

Counted (bench/crash_campaign.py gathers the evidence, once every run has ended):

- lost: a schedule slot without a run (each interval schedule's instants from
  the first apsisd's start to the last reload, which removed the schedules);
  an ad hoc run the API acknowledged and the store lacks; a successor owed (its
  run succeeded) and never made; a unit PID 1 started for a run the store lacks.
- doubled: a slot, an ad hoc post or a successor with more than one run; a
  unit PID 1 started more than once (its "Started" records, trusted by `_PID=1`
  and `_UID=0` as apsisd's own trust.py does); a program that marked more than
  one start (each appends its $INVOCATION_ID to its marks file).
- wrong: a run whose state, exit code or signal is not what its argv makes the
  program do (but for an outcome apsis rightly calls lost, below); a run
  recorded as ended that never started, or whose invocation is not the one
  PID 1 and the program saw; a run that ran but is recorded
  skipped; a skip the catch-up rule does not call for (below); a successor of a
  run that did not succeed, or with other args; a run at no slot (one the last
  reload found already committed to starting, LEAD before its slot, stays).
- incomplete: a run's output (GET /api/v1/runs/ID/output) other than exactly
  its numbered lines, checked by count and checksum.
- stuck: a run not ended once every run should have (`settle`), or an apsis unit
  still loaded then.

An outcome apsis records as lost is not wrong when no one could know it: PID 1's
records tell the unit started and not how it ended, and journald went away (a
restart) after it started and before apsis's verdict. While journald is away,
PID 1 logs only to the kernel's log, without the fields apsis trusts; with no
apsisd alive as the run ended, its end is then nowhere (docs/operations.md).
Such runs are counted in the totals.

The catch-up rule (docs/operations.md, "After downtime"; every job here has
the default `catchup: latest`): at each start, the runs of a job missed while
apsisd was down (due before that start's instant N and neither started nor
skipped by an earlier apsisd) are all skipped at N, but those of the newest
missed instant, which start. N is the skips' own time; a start that skipped
nothing may have caught up one instant at most, or committed nothing at all.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from agentd.systemd.outcome import MSG_FAILED, MSG_PROCESS_EXITED, MSG_STARTED, MSG_SUCCEEDED, signal_name
from apsisd.runs.model import LogEntry, Origin, Run
from apsisd.runs.state import State
from apsisd.scheduler.service import LEAD
from apsisd.schedules.base import stamp

RUN_ID = re.compile(r"\br\d+\b")
LATEST = "missed while apsisd was down; catchup is latest: "
COMMIT_LEAD = LEAD.total_seconds()
FIGURES = ("lost", "doubled", "wrong", "incomplete", "stuck")
JOURNAL_STOPPED = "d93fb3c9c24d451a97cea615ce59c00b"  # journald's own records of its stop and start
JOURNAL_STARTED = "f77379a8490b408bbe5f6940505a777b"
UNTOLD = "outcomes lost as journald was away when they ended"


class JobLike(Protocol):
    """A job of the load, as crash_campaign.JobDef has it."""

    @property
    def job_id(self) -> str: ...

    @property
    def successor(self) -> str | None: ...

    @property
    def schedules(self) -> Sequence[Any]: ...

    @property
    def params(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Load:
    jobs: Sequence[JobLike]
    adhoc: str  # the job id the ad hoc runs are filed under
    program: str


@dataclass(slots=True, kw_only=True)
class Life:
    """One apsisd process: when it was spawned, said READY=1, was killed (epoch seconds)."""

    spawn: float
    ready: float | None = None
    kill: float | None = None


@dataclass(slots=True, kw_only=True)
class Post:
    """An ad hoc run asked for through the API: the run it got, or why not (a kill in between: not known)."""

    tag: str
    sent: float
    run_id: str | None = None
    refused: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    lives: list[Life]
    final: tuple[float, float]  # the last reload (schedules removed): asked, answered
    runs: list[Run]
    posts: list[Post]
    marks: dict[str, list[str]]  # run id -> the invocation ids its program marked
    journal: list[dict[str, Any]]  # PID 1's records of apsis services
    journald_stops: list[float]  # when journald stopped (restarts), seconds since the epoch
    outputs: dict[str, bytes | str]
    units_left: dict[str, str]  # unit -> what systemd says of it
    logs: dict[str, list[LogEntry]]
    apsisd_log: str


@dataclass(frozen=True, slots=True)
class Finding:
    figure: str
    what: str  # a run id, or a slot
    detail: str


@dataclass(slots=True)
class Report:
    evidence: Evidence
    findings: list[Finding] = field(default_factory=list)
    totals: Counter[str] = field(default_factory=Counter)

    def add(self, figure: str, what: str, detail: str) -> None:
        self.findings.append(Finding(figure, what, detail))

    @property
    def failed(self) -> bool:
        return bool(self.findings)

    def counts(self) -> Counter[str]:
        return Counter(f.figure for f in self.findings)

    def text(self, *, kills: int, faults: Mapping[str, int], reloads: int) -> str:
        counts = self.counts()
        lines = ["", "| figure | count |", "| --- | --- |"]
        lines += [f"| {name} | {counts[name]} |" for name in FIGURES]
        lines += ["", "| total | count |", "| --- | --- |", f"| kills (SIGKILL) | {kills} |"]
        lines += [f"| fault: {name} | {count} |" for name, count in faults.items()]
        lines += [f"| reloads (SIGHUP, tick's file changed) | {reloads} |"]
        lines += [f"| {name} | {count:,} |" for name, count in sorted(self.totals.items())]
        for figure in FIGURES:
            found = [f for f in self.findings if f.figure == figure]
            if found:
                lines += ["", f"## {figure} ({len(found)})"]
                for finding in found:
                    lines += [f"- {finding.what}: {finding.detail}", *self._story(finding)]
        return "\n".join(lines)

    def _story(self, finding: Finding) -> list[str]:
        """The run's own log, what the campaign did meanwhile (kills, faults) and apsisd's lines about the run, to
        find the moment it went wrong; for a slot, those of its runs."""
        ids = [finding.what] if RUN_ID.fullmatch(finding.what) else RUN_ID.findall(finding.detail)
        story = []
        for run_id in ids[:3]:
            entries = self.evidence.logs.get(run_id, [])
            story += [f"    {run_id} log: {e.time:%H:%M:%S.%f} {e.state or '-'} {e.message}" for e in entries]
            lines = self.evidence.apsisd_log.splitlines()
            if entries:  # from its start (or skip) on, a run being created up to minutes before; the faults until
                # it ended (an unended run: all), for systemd may harm a unit long after
                began = next((e.time for e in entries if e.state not in (None, State.SCHEDULED)), entries[0].time)
                start, end = (f"{t:%Y-%m-%d %H:%M:%S}" for t in (began - timedelta(seconds=1),
                                                                 entries[-1].time + timedelta(seconds=1)))
                ended = any(e.state is not None and e.state.finished for e in entries)
                story += [f"    campaign: {line[11:]}" for line in lines if "=== campaign:" in line
                          and start <= line[:19] and (line[:19] <= end or ("fault" in line and not ended))]
            said = [line for line in lines if re.search(rf"\b{run_id}\b", line)]
            story += [f"    apsisd: {line[:300]}" for line in said[:12]]
        return story


@dataclass(frozen=True, slots=True)
class Expected:
    """What the campaign's program does, from its argv: how many lines it prints and how it ends."""

    run_id: str
    lines: int
    end: str
    tag: str

    @classmethod
    def of(cls, run: Run, program: str) -> Expected | None:
        argv = run.spec.argv if run.spec is not None else None
        if argv is None or len(argv) != 8 or argv[1] != program or not argv[4].isdigit():
            return None
        return cls(run_id=argv[3], lines=int(argv[4]), end=argv[6], tag=argv[7])

    def outcome(self) -> tuple[State, int | None, str | None]:
        if self.end.startswith("sig"):
            return State.FAILURE, None, self.end.removeprefix("sig")
        code = int(self.end)
        return (State.SUCCESS if code == 0 else State.FAILURE), code, None

    def output(self) -> bytes:
        return "".join(f"{self.run_id} {n}\n" for n in range(1, self.lines + 1)).encode()


def marks_of(folder: Path) -> dict[str, list[str]]:
    return {path.name: path.read_text().split() for path in folder.iterdir()}


def journal_records(since: datetime) -> list[dict[str, Any]]:
    """PID 1's records about apsis services since `since`: only records journald says PID 1 (root) wrote."""
    out = subprocess.run(["journalctl", "--output=json", "--no-pager", "--all", f"--since=@{since.timestamp():.6f}",
                          "_PID=1", "_UID=0"], capture_output=True, text=True, check=True, timeout=120).stdout
    records = (json.loads(line) for line in out.splitlines() if line.strip())
    return [r for r in records if str(r.get("UNIT", "")).startswith("apsis-")
            and str(r.get("UNIT", "")).endswith(".service")]


def journald_stops(since: datetime) -> list[float]:
    """When journald stopped since `since`, from its own records (its unit's, as root)."""
    out = subprocess.run(["journalctl", "--output=json", "--no-pager", f"--since=@{since.timestamp():.6f}",
                          "_SYSTEMD_UNIT=systemd-journald.service", "_UID=0", f"MESSAGE_ID={JOURNAL_STOPPED}"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return [int(json.loads(line)["__REALTIME_TIMESTAMP"]) / 1e6 for line in out.splitlines() if line.strip()]


def untold(run: Run, records: Sequence[Mapping[str, Any]], stops: Sequence[float]) -> bool:
    """apsis recorded the run's outcome lost, and none could know it: PID 1's records of its unit tell its start
    and no end, and journald stopped after that start and before the verdict."""
    if run.state is not State.ERROR or not (run.reason or "").startswith("outcome lost"):
        return False
    kinds = [r.get("MESSAGE_ID") for r in records]
    if any(kind in (MSG_PROCESS_EXITED, MSG_SUCCEEDED, MSG_FAILED) for kind in kinds):
        return False
    begun = [int(r["__REALTIME_TIMESTAMP"]) / 1e6 for r in records if r.get("MESSAGE_ID") == MSG_STARTED]
    verdict = run.times[State.ERROR].timestamp()
    return bool(begun) and any(min(begun) < stop < verdict for stop in stops)


def handled(run: Run) -> datetime | None:
    """When an apsisd first decided the run's fate: committed it starting, or skipped it."""
    times = [run.times[s] for s in (State.STARTING, State.SKIPPED) if s in run.times]
    return min(times, default=None)


def check(load: Load, evidence: Evidence) -> Report:
    report = Report(evidence)
    runs = evidence.runs
    report.totals.update({f"runs of {job}": n for job, n in Counter(r.job_id for r in runs).items()})
    report.totals.update({f"runs {state}": n for state, n in Counter(str(r.state) for r in runs).items()})
    for job in load.jobs:
        if job.schedules:
            check_slots(report, job, [r for r in runs if r.job_id == job.job_id], evidence)
        if job.successor:
            check_successors(report, job, runs)
    check_adhoc(report, load.adhoc, [r for r in runs if r.job_id == load.adhoc], evidence.posts)
    check_runs(report, load.program, runs, evidence)
    return report


def slots(job: JobLike, start: float, end: float) -> dict[float, Mapping[str, str]]:
    """Every instant of the job's interval schedules in [start, end), with its schedule's args."""
    found: dict[float, Mapping[str, str]] = {}
    for schedule in job.schedules:
        first = math.ceil((start - schedule.phase) / schedule.interval) * schedule.interval + schedule.phase
        found.update({float(t): schedule.args for t in range(first, math.ceil(end), schedule.interval) if t < end})
    return found


def check_slots(report: Report, job: JobLike, runs: list[Run], evidence: Evidence) -> None:
    """One run per slot, none elsewhere, each with its slot's args, skipped exactly as the catch-up rule says."""
    lives, (asked, answered) = evidence.lives, evidence.final
    first_ready = next((life.ready for life in lives if life.ready is not None), answered)
    expected = slots(job, lives[0].spawn, answered)
    at: dict[float, list[Run]] = defaultdict(list)
    for run in runs:
        at[run.schedule_time.timestamp()].append(run)
    report.totals["slots checked"] += len(expected)
    for t, args in sorted(expected.items()):
        found = at.get(t, [])
        where = f"{job.job_id} at {datetime.fromtimestamp(t):%H:%M:%S}"
        if len(found) > 1:
            report.add("doubled", where, f"{len(found)} runs: {', '.join(r.id for r in found)}")
        elif not found and first_ready <= t < asked:
            report.add("lost", where, "no run for this slot")
        for run in found:
            want = {k: v for k, v in {**args, "time": stamp(datetime.fromtimestamp(t, UTC))}.items()
                    if k in job.params}
            if dict(run.args) != want:
                report.add("wrong", run.id, f"args {dict(run.args)}, the slot gives {want}")
    # A run committed to starting (LEAD before its slot) when the last reload came stays: it was handed to systemd.
    committed = slots(job, answered, answered + COMMIT_LEAD)
    for t, found in at.items():
        if t in committed and all(State.STARTING in r.times and r.times[State.STARTING].timestamp() < answered
                                  for r in found):
            continue
        if t not in expected:
            report.add("wrong", found[0].id, f"{job.job_id} has a run at {datetime.fromtimestamp(t)}, no slot of it "
                                             f"(schedules end at the last reload, answered {answered:.3f})")
    check_catch_up(report, job, runs, lives)


def check_catch_up(report: Report, job: JobLike, runs: list[Run], lives: list[Life]) -> None:
    skips = [r for r in runs if r.state is State.SKIPPED]
    for run in skips:
        if not run.reason.startswith(LATEST):
            report.add("wrong", run.id, f"skipped: {run.reason!r}, not by the catch-up rule")
    for i, life in enumerate(lives):
        end = lives[i + 1].spawn if i + 1 < len(lives) else math.inf
        skipped = {r.id for r in skips if life.spawn <= r.times[State.SKIPPED].timestamp() < end}
        if i == 0:
            for run_id in skipped:
                report.add("wrong", run_id, "skipped by the first apsisd, which had missed nothing")
            continue
        when = {r.times[State.SKIPPED] for r in skips if r.id in skipped}
        instant = max(when).timestamp() if when else life.spawn
        if len(when) > 1:
            report.add("wrong", f"{job.job_id} life {i}", f"skips at {len(when)} different times in one start")
        missed = [r for r in runs if r.schedule_time.timestamp() < instant
                  and ((h := handled(r)) is None or h.timestamp() >= life.spawn)]
        newest = max((r.schedule_time for r in missed), default=None)
        due_skips = {r.id for r in missed if r.schedule_time != newest}
        if skipped:
            for run_id in sorted(skipped - due_skips):
                report.add("wrong", run_id, f"skipped at start {i}, though the newest of the {len(missed)} "
                                            f"missed runs of {job.job_id}")
            for run_id in sorted(due_skips - skipped):
                report.add("wrong", run_id, f"one of the {len(missed)} runs of {job.job_id} missed before start {i}, "
                                            f"not the newest, yet not skipped (catchup is latest)")
        elif len({r.schedule_time for r in missed}) > 1:
            started = [r.id for r in missed if (h := handled(r)) is not None and h.timestamp() < end]
            if started:
                report.add("wrong", f"{job.job_id} life {i}",
                           f"{len(missed)} runs missed, none skipped, yet {', '.join(started)} started "
                           f"(catchup is latest)")


def check_successors(report: Report, job: JobLike, runs: list[Run]) -> None:
    """Each run of `job` that succeeded made exactly one run of its successor, with its args; no other did."""
    made: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.job_id == job.successor:
            made[str(run.previous)].append(run)
    parents = {run.id: run for run in runs if run.job_id == job.job_id}
    for parent in parents.values():
        children = made.get(parent.id, [])
        report.totals[f"successors checked ({job.job_id})"] += 1
        if parent.state is State.SUCCESS and not children:
            report.add("lost", parent.id, f"succeeded; no run of {job.successor} made by it")
        elif parent.state is State.SUCCESS and len(children) > 1:
            report.add("doubled", parent.id, f"succeeded; {len(children)} runs of {job.successor}: "
                                             f"{', '.join(c.id for c in children)}")
        elif parent.state is not State.SUCCESS and children:
            report.add("wrong", parent.id, f"ended {parent.state}, yet made {', '.join(c.id for c in children)}")
        for child in children:
            want = {"time": parent.args.get("time")}
            if dict(child.args) != want or child.origin is not Origin.ACTION:
                report.add("wrong", child.id, f"successor of {parent.id} with args {dict(child.args)} and origin "
                                              f"{child.origin}, not {want} and action")
    for previous, children in made.items():
        if previous not in parents:
            report.add("wrong", children[0].id, f"a run of {job.successor} made by {previous}, no run of {job.job_id}")


def check_adhoc(report: Report, name: str, runs: list[Run], posts: list[Post]) -> None:
    """Each acknowledged post has its run; no post has two (a post cut by a kill may have made one or none)."""
    by_tag: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        tag = run.spec.argv[-1] if run.spec is not None and run.spec.argv else "?"
        by_tag[tag].append(run)
    report.totals["ad hoc posts"] = len(posts)
    report.totals["ad hoc posts acknowledged"] = sum(1 for p in posts if p.run_id)
    for post in posts:
        found = by_tag.get(post.tag, [])
        if len(found) > 1:
            report.add("doubled", post.tag, f"{len(found)} ad hoc runs: {', '.join(r.id for r in found)}")
        if post.run_id is not None and post.run_id not in {r.id for r in found}:
            report.add("lost", post.tag, f"acknowledged as {post.run_id}, which the store lacks")
    known = {post.tag for post in posts}
    for tag, found in by_tag.items():
        if tag not in known:
            report.add("wrong", found[0].id, f"an ad hoc run {name} tagged {tag!r}, which was never posted")


def check_runs(report: Report, program: str, runs: list[Run], evidence: Evidence) -> None:
    """Each run against its program's marks, PID 1's records of its unit, and its output."""
    starts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    exits: dict[tuple[str, str], dict[str, Any]] = {}
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in evidence.journal:
        records[record["UNIT"]].append(record)
        if record.get("MESSAGE_ID") == MSG_STARTED:
            starts[record["UNIT"]].append(record)
        elif record.get("MESSAGE_ID") == MSG_PROCESS_EXITED:
            exits[(record["UNIT"], record.get("INVOCATION_ID", ""))] = record
    known = {run.id for run in runs}
    for unit in starts:
        run_id = unit.removeprefix("apsis-").removesuffix(".service")
        if run_id not in known:
            report.add("lost", run_id, f"PID 1 started {unit}; the store has no such run")
    for run_id in evidence.marks:
        if run_id not in known:
            report.add("lost", run_id, "its program ran (marked); the store has no such run")
    for unit, state in evidence.units_left.items():
        report.add("stuck", unit, f"still loaded after every run should have ended ({state})")
    for run in runs:
        unit = f"apsis-{run.id}.service"
        check_run(report, program, run, evidence.marks.get(run.id, []), starts.get(unit, []), exits,
                  evidence.outputs.get(run.id), end_untold=untold(run, records.get(unit, []), evidence.journald_stops))


def check_run(report: Report, program: str, run: Run, marks: list[str], starts: list[dict[str, Any]],
              exits: Mapping[tuple[str, str], Mapping[str, Any]], output: bytes | str | None, *,
              end_untold: bool) -> None:
    ran = bool(marks or starts)
    if not run.finished:
        report.add("stuck", run.id, f"{run.state} after the settling time ({run.reason}); unit "
                                    f"{'started' if starts else 'never started'}")
        return
    if len(marks) > 1 or len(starts) > 1:
        report.add("doubled", run.id, f"started {len(starts)} times by PID 1, {len(marks)} times by its program's "
                                      f"marks: {', '.join(marks)}")
    if run.state is State.SKIPPED:
        if ran:
            report.add("wrong", run.id, f"recorded skipped ({run.reason}), yet it ran")
        return
    expected = Expected.of(run, program)
    if expected is None or expected.run_id != run.id:
        report.add("wrong", run.id, f"not the campaign's program for this run: {run.spec}")
        return
    report.totals["outcomes checked"] += 1
    if not ran:
        report.add("wrong", run.id, f"recorded {run.state} ({run.reason}), but its program never started")
        return
    state, code, signal = expected.outcome()
    if end_untold:
        report.totals[UNTOLD] += 1
    elif (run.state, run.exit_code, run.signal) != (state, code, signal):
        report.add("wrong", run.id, f"recorded {run.state}, exit code {run.exit_code}, signal {run.signal} "
                                    f"({run.reason}); its program ended {state}, exit code {code}, signal {signal}")
    seen = {s.get("INVOCATION_ID") for s in starts} | set(marks)
    if run.invocation_id not in seen or len(seen) > 1:
        report.add("wrong", run.id, f"recorded invocation {run.invocation_id}; PID 1 and the program saw "
                                    f"{sorted(str(s) for s in seen)}")
    exited = exits.get((f"apsis-{run.id}.service", str(run.invocation_id)))
    if exited is not None and not _same_end(exited, expected):
        report.add("wrong", run.id, f"PID 1 says it exited {exited.get('EXIT_CODE')}/{exited.get('EXIT_STATUS')}; "
                                    f"its program ends {expected.end}")
    check_output(report, run, expected, output)


def _same_end(record: Mapping[str, Any], expected: Expected) -> bool:
    """PID 1's "Main process exited" record (EXIT_CODE: exited, killed or dumped; EXIT_STATUS: a number)."""
    code, status = record.get("EXIT_CODE"), str(record.get("EXIT_STATUS"))
    if expected.end.startswith("sig"):
        name = signal_name(int(status)) if status.isdigit() else status.removeprefix("SIG")
        return code in ("killed", "dumped") and name == expected.end.removeprefix("sig")
    return code == "exited" and status == expected.end


def check_output(report: Report, run: Run, expected: Expected, output: bytes | str | None) -> None:
    want = expected.output()
    report.totals["output lines checked"] += expected.lines
    if isinstance(output, str) or output is None:
        report.add("incomplete", run.id, f"output not readable: {output}")
    elif output != want:
        lines = output.splitlines()
        good = sum(1 for a, b in zip(lines, want.splitlines(), strict=False) if a == b)
        report.add("incomplete", run.id, f"{len(lines)} lines (sha256 {_digest(output)}), {good} as expected, of "
                                         f"{expected.lines} (sha256 {_digest(want)})")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
