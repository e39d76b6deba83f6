"""What runs to create: expand() up to the horizon under max_scheduled, catch_up() after downtime, job_changes()
and rematch() on reload. Jobs are built by the job files' own parser; every time is passed in."""
from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from agentd.types import JobId, RunId
from apsisd.jobs.model import Job
from apsisd.jobs.parse import JobParser
from apsisd.jobs.scheduling import CatchUp, Scheduling
from apsisd.quantities import parse_duration
from apsisd.scheduler.plan import Expansion, JobChanges, Missed, Verdict, catch_up, expand, job_changes, rematch
from apsisd.schedules.base import Due

DAY = "2026-03-02"  # a Monday


def at(text: str) -> datetime:
    """'10:30' on DAY, or a whole ISO instant; UTC unless it says otherwise."""
    moment = datetime.fromisoformat(text if "T" in text else f"{DAY}T{text}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def job(text: str, job_id: str = "j") -> Job:
    return JobParser({}, [job_id]).parse(job_id, yaml.safe_load(text))


def policy(horizon: str = "1d", max_scheduled: int = 10, catchup: str = "latest", max_age: float | None = None
           ) -> Scheduling:
    return Scheduling(horizon=parse_duration(horizon), max_scheduled=max_scheduled, catchup=CatchUp(catchup),
                      max_age=max_age)


HOURLY = job("""
schedule: {type: interval, interval: 1h}
program: "true"
""")
# Two schedules due at every hour: each hour is one instant of two runs.
TWICE_HOURLY = job("""
params: [region]
schedule:
  - {type: interval, interval: 1h, args: {region: a}}
  - {type: cron, expr: "0 * * * *", tz: UTC, args: {region: b}}
program: "true"
""")
DAILY_LONDON = job("""
params: [date]
schedule: {type: daily, tz: Europe/London, daytime: "09:30"}
program: "true"
""")
QUARTERLY = job("""
schedule: {type: cron, expr: "*/15 * * * *", tz: UTC}
program: "true"
""")
TWICE_ONLY = job("""
schedule: {type: explicit, times: ["2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z"]}
program: "true"
""")
DISABLED = job("""
schedule: {type: interval, interval: 1h, enabled: false}
program: "true"
""")
WITH_STOP = job("""
schedule: {start: {type: interval, interval: 1h}, stop: 15m}
program: "true"
""")


def shape(plan: Expansion) -> tuple[list[str], datetime, datetime | None, bool]:
    """The runs as 'HH:MM' (or 'HH:MMx' with the region arg), then cursor, next_due, capped."""
    runs = [f"{due.time:%H:%M}{due.args.get('region', '')}" for due in plan.dues]
    return runs, plan.cursor, plan.next_due, plan.capped


# (what, job, cursor, now, scheduled, policy) -> (runs, cursor, next_due, capped)
EXPANSIONS: list[tuple[str, Job, str, str, int, Scheduling, tuple[list[str], str, str | None, bool]]] = [
    ("the horizon cuts, its own instant excluded", HOURLY, "10:00", "10:00", 0, policy("3h"),
     (["10:00", "11:00", "12:00"], "13:00", "13:00", False)),
    ("now between two runs", HOURLY, "10:30", "10:30", 0, policy("3h"),
     (["11:00", "12:00", "13:00"], "13:30", "14:00", False)),
    ("max_scheduled caps before the horizon", HOURLY, "10:00", "10:00", 0, policy("1d", 3),
     (["10:00", "11:00", "12:00"], "13:00", "13:00", True)),
    ("runs already scheduled count against the cap", HOURLY, "10:00", "10:00", 2, policy("1d", 3),
     (["10:00"], "11:00", "11:00", True)),
    ("no room: nothing moves", HOURLY, "10:00", "10:00", 3, policy("1d", 3),
     ([], "10:00", "10:00", True)),
    ("more scheduled than the cap (it was lowered): nothing moves", HOURLY, "10:00", "10:00", 5, policy("1d", 3),
     ([], "10:00", "10:00", True)),
    ("the cap and the horizon at the same run: the horizon says", HOURLY, "10:00", "10:00", 0, policy("3h", 3),
     (["10:00", "11:00", "12:00"], "13:00", "13:00", False)),
    ("resumes at the cursor", HOURLY, "13:00", "10:00", 3, policy("6h"),
     (["13:00", "14:00", "15:00"], "16:00", "16:00", False)),
    ("a cursor behind now (the loop was held up) gives the late runs too", HOURLY, "08:00", "10:00", 0,
     policy("1h"), (["08:00", "09:00", "10:00"], "11:00", "11:00", False)),
    ("a cursor at the horizon: nothing new", HOURLY, "13:00", "10:00", 3, policy("3h"),
     ([], "13:00", "13:00", False)),
    # The clock stepped back (or the horizon was lowered): the runs up to the cursor exist, so it stays.
    ("a cursor beyond the horizon never goes back", HOURLY, "15:00", "10:00", 5, policy("3h"),
     ([], "15:00", "15:00", False)),
    ("every 15 minutes by cron", QUARTERLY, "10:05", "10:05", 0, policy("1h"),
     (["10:15", "10:30", "10:45", "11:00"], "11:05", "11:15", False)),
    ("a finite schedule ends: no next run", TWICE_ONLY, "10:00", "10:00", 0, policy("1d"),
     (["11:00", "12:00"], "2026-03-03T10:00", None, False)),
    ("after a finite schedule's end", TWICE_ONLY, "12:00:01", "12:30", 0, policy("1d"),
     ([], "2026-03-03T12:30", None, False)),
    ("a disabled schedule gives nothing", DISABLED, "10:00", "10:00", 0, policy("1d"),
     ([], "2026-03-03T10:00", None, False)),
    # Two schedules due at the same instant: never split by the cap.
    ("two runs an instant, under the horizon", TWICE_HOURLY, "10:00", "10:00", 0, policy("2h"),
     (["10:00a", "10:00b", "11:00a", "11:00b"], "12:00", "12:00", False)),
    ("two runs an instant, the cap exactly two instants", TWICE_HOURLY, "10:00", "10:00", 0, policy("1d", 4),
     (["10:00a", "10:00b", "11:00a", "11:00b"], "12:00", "12:00", True)),
    ("an instant that does not fit whole waits for room", TWICE_HOURLY, "10:00", "10:00", 0, policy("1d", 3),
     (["10:00a", "10:00b"], "11:00", "11:00", True)),
    ("a cap smaller than one instant: the instant whole, or the job would never move on", TWICE_HOURLY,
     "10:00", "10:00", 0, policy("1d", 1), (["10:00a", "10:00b"], "11:00", "11:00", True)),
    ("room for half an instant while runs are scheduled: they start first", TWICE_HOURLY, "10:00", "10:00", 2,
     policy("1d", 3), ([], "10:00", "10:00", True)),
    ("room for half the next instant", TWICE_HOURLY, "11:00", "10:30", 1, policy("1d", 4),
     (["11:00a", "11:00b"], "12:00", "12:00", True)),
]


@pytest.mark.parametrize(("what", "the_job", "cursor", "now", "scheduled", "the_policy", "expected"),
                         EXPANSIONS, ids=[case[0] for case in EXPANSIONS])
def test_expand(what: str, the_job: Job, cursor: str, now: str, scheduled: int, the_policy: Scheduling,
                expected: tuple[list[str], str, str | None, bool]) -> None:
    runs, new_cursor, next_due, capped = expected
    got = expand(the_job, the_policy, at(cursor), at(now), scheduled)
    assert shape(got) == (runs, at(new_cursor), at(next_due) if next_due else None, capped)


def test_expand_never_exceeds_the_cap_unless_one_instant_is_larger_than_it() -> None:
    """Whatever the room, the runs given are whole instants, at most the room (one oversized instant aside),
    and the next expansion from the cursor they leave picks up exactly where they stopped."""
    for max_scheduled in range(1, 7):
        for scheduled in range(0, 8):
            the_policy = policy("1d", max_scheduled)
            plan = expand(TWICE_HOURLY, the_policy, at("10:00"), at("10:00"), scheduled)
            room = max_scheduled - scheduled
            assert len(plan.dues) % 2 == 0
            assert len(plan.dues) <= max(room, 2 if scheduled == 0 else 0)
            assert plan.capped
            if plan.dues:
                assert plan.cursor == plan.next_due == plan.dues[-1].time + timedelta(hours=1)
            following = expand(TWICE_HOURLY, the_policy, plan.cursor, at("10:00"), 0)
            assert [due.time for due in following.dues][:1] == [plan.next_due]


def test_expansions_in_steps_give_each_run_once() -> None:
    """Topping up as runs start (the service's way) gives the same runs as one expansion up to the horizon."""
    the_policy = policy("1d", 3)
    cursor, scheduled, made = at("10:00"), 0, []
    for _ in range(40):
        plan = expand(TWICE_HOURLY, the_policy, cursor, at("10:00"), scheduled)
        made.extend(plan.dues)
        cursor, scheduled = plan.cursor, 0  # every run made has started
        if not plan.capped:
            break
    whole = expand(TWICE_HOURLY, policy("1d", 1000), at("10:00"), at("10:00"), 0)
    assert made == whole.dues
    assert len(made) == 48 and cursor == at("2026-03-03T10:00")


def test_expand_across_a_dst_change_keeps_the_local_daytime() -> None:
    plan = expand(DAILY_LONDON, policy("2d"), at("2026-03-28T12:00"), at("2026-03-28T12:00"), 0)
    assert [(due.time, dict(due.args)) for due in plan.dues] == [
        (at("2026-03-29T09:30+01:00"), {"date": "2026-03-29"}),  # British Summer Time from 2026-03-29
        (at("2026-03-30T09:30+01:00"), {"date": "2026-03-30"}),
    ]
    assert (plan.cursor, plan.next_due, plan.capped) == (at("2026-03-30T12:00"), at("2026-03-31T08:30"), False)


def test_expand_keeps_each_runs_stop_time() -> None:
    plan = expand(WITH_STOP, policy("2h"), at("10:00"), at("10:00"), 0)
    assert [(due.time, due.stop) for due in plan.dues] == [(at("10:00"), at("10:15")), (at("11:00"), at("11:15"))]


def test_expand_gives_the_same_runs_as_the_jobs_own_times() -> None:
    plan = expand(DAILY_LONDON, policy("2d", 1000), at("09:00"), at("09:00"), 0)
    assert plan.dues == DAILY_LONDON.due_between(at("09:00"), at("2026-03-04T09:00"))


# -- catch-up after downtime ------------------------------------------------------------------------------------

NOW = at("06:00")
SINCE = at("02:00")
MAX_AGE = 9000.0  # 2.5 h: before 03:30 is too old
A, B = {"region": "a"}, {"region": "b"}
MISSED = [Missed(job_id=JobId("j"), time=at(hhmm), args=args, existing=RunId(f"r{i}") if i % 2 else None)
          for i, (hhmm, args) in enumerate([("01:00", A), ("02:00", A), ("02:30", B), ("03:00", A), ("04:00", A),
                                            ("04:30", B), ("05:00", A)], start=1)]
REASONS = {
    "S": "missed while apsisd was down; caught up",
    "i": "missed while apsisd was down; before --since 2026-03-02T02:00:00+00:00",
    "a": "missed while apsisd was down; older than max_age (9000 s)",
    "N": "missed while apsisd was down; catchup is none",
    "L": "missed while apsisd was down; catchup is latest: the job's latest missed run starts instead",
}
# policy, max_age, since -> each missed run's fate in time order (01:00a 02:00a 02:30b 03:00a 04:00a 04:30b 05:00a):
# S started, i before --since, a older than max_age, N catchup none, L not at the job's latest missed instant.
CATCH_UPS = [
    ("all", None, None, "SSSSSSS"),
    ("all", None, SINCE, "iSSSSSS"),
    ("all", MAX_AGE, None, "aaaaSSS"),
    ("all", MAX_AGE, SINCE, "iaaaSSS"),
    ("latest", None, None, "LLLLLLS"),
    ("latest", None, SINCE, "iLLLLLS"),
    ("latest", MAX_AGE, None, "aaaaLLS"),
    ("latest", MAX_AGE, SINCE, "iaaaLLS"),
    ("none", None, None, "NNNNNNN"),
    ("none", None, SINCE, "iNNNNNN"),
    ("none", MAX_AGE, None, "aaaaNNN"),
    ("none", MAX_AGE, SINCE, "iaaaNNN"),
]


@pytest.mark.parametrize(("catchup", "max_age", "since", "fates"), CATCH_UPS,
                         ids=[f"{c}-{'age' if a else 'no_age'}-{'since' if s else 'no_since'}"
                              for c, a, s, _ in CATCH_UPS])
def test_catch_up(catchup: str, max_age: float | None, since: datetime | None, fates: str) -> None:
    shuffled = random.Random(4).sample(MISSED, len(MISSED))  # the order given does not matter
    verdicts = catch_up(shuffled, policy(catchup=catchup, max_age=max_age), NOW, since)
    assert [verdict.missed for verdict in verdicts] == MISSED  # in time order, each once, as given
    assert [(verdict.start, verdict.reason) for verdict in verdicts] == [(f == "S", REASONS[f]) for f in fates]


def test_latest_is_per_job_not_per_args_since_runs_carry_their_time_in_their_args() -> None:
    """A job with a `date` or `schedule_time` param has different args in every run: grouping by args would make
    `latest` start every missed run (seen in the demo before this test)."""
    missed = [Missed(job_id=JobId("j"), time=at(hhmm), args={"schedule_time": hhmm})
              for hhmm in ("03:00", "04:00", "05:00")]
    verdicts = catch_up(missed, policy(catchup="latest"), NOW, None)
    assert [(f"{v.missed.time:%H:%M}", v.start) for v in verdicts] == [
        ("03:00", False), ("04:00", False), ("05:00", True)]


def test_latest_starts_every_run_at_the_latest_instant() -> None:
    first = Missed(job_id=JobId("j"), time=at("05:00"), args={"region": "a"}, existing=RunId("r1"))
    other = Missed(job_id=JobId("j"), time=at("05:00"), args={"region": "b"})
    earlier = Missed(job_id=JobId("j"), time=at("04:00"), args={"region": "a"})
    verdicts = catch_up([first, other, earlier], policy(catchup="latest"), NOW, None)
    assert [(v.missed, v.start) for v in verdicts] == [(earlier, False), (first, True), (other, True)]


def test_catch_up_boundaries_are_inclusive() -> None:
    """A run exactly at --since, or exactly max_age old, is still caught up."""
    missed = [Missed(job_id=JobId("j"), time=at("02:00"), args=A), Missed(job_id=JobId("j"), time=at("03:30"), args=B)]
    since = catch_up(missed, policy(catchup="all"), NOW, at("02:00"))
    assert [v.start for v in since] == [True, True]
    aged = catch_up(missed, policy(catchup="all", max_age=MAX_AGE), NOW, None)
    assert [v.start for v in aged] == [False, True]


def test_a_since_after_everything_skips_everything_and_nothing_missed_is_nothing() -> None:
    verdicts = catch_up(MISSED, policy(catchup="all"), NOW, at("05:30"))
    assert {(v.start, v.reason) for v in verdicts} == {
        (False, "missed while apsisd was down; before --since 2026-03-02T05:30:00+00:00")}
    assert catch_up([], policy(catchup="all"), NOW, None) == []


def test_the_verdict_keeps_the_existing_runs_id() -> None:
    (verdict,) = catch_up([MISSED[0]], policy(catchup="all"), NOW, None)
    assert verdict == Verdict(missed=MISSED[0], start=True, reason=REASONS["S"])
    assert verdict.missed.existing == "r1"


# -- reload: which jobs changed, and which future runs keep their ids ---------------------------------------------

PROGRAM = 'program: "echo {v}"\n'


def jobs(**texts: str) -> Mapping[JobId, Job]:
    return {JobId(name): job(text, name) for name, text in texts.items()}


def test_job_changes_tells_added_changed_and_removed_sorted() -> None:
    hourly = "schedule: {type: interval, interval: 1h}\n"
    old = jobs(gone=hourly + PROGRAM, kept=hourly + PROGRAM, prog=hourly + PROGRAM, sched=hourly + PROGRAM,
               b_gone=hourly + PROGRAM)
    new = jobs(kept=hourly + PROGRAM, prog=hourly + PROGRAM.replace("{v}", "new"),
               sched=hourly + PROGRAM + "scheduling: {max_scheduled: 2}\n", z_new=hourly + PROGRAM,
               a_new=PROGRAM)
    changes = job_changes(old, new)
    assert (changes.added, changes.changed, changes.removed) == (("a_new", "z_new"), ("prog", "sched"),
                                                                 ("b_gone", "gone"))
    assert changes


def test_the_same_folder_read_twice_is_no_change() -> None:
    text = "params: [date]\nschedule: {type: daily, tz: Europe/London, daytime: '09:30'}\n" + PROGRAM
    changes = job_changes(jobs(a=text), jobs(a=text))
    assert changes == JobChanges(added=(), changed=(), removed=())
    assert not changes


def due(hhmm: str, **args: str) -> Due:
    return Due(time=at(hhmm), args=args)


def test_rematch_keeps_the_runs_the_job_still_gives() -> None:
    existing = [(RunId("r1"), at("10:00"), {"x": "1"}), (RunId("r2"), at("11:00"), {"x": "1"}),
                (RunId("r3"), at("12:00"), {"x": "1", "y": "2"}), (RunId("r4"), at("11:00"), {"x": "2"})]
    dues = [due("10:00", x="1"), due("11:00", x="2"), due("12:00", y="2", x="1"), due("12:00", x="3"),
            due("13:00", x="1")]
    gone, fresh, kept = rematch(existing, dues)
    assert gone == ["r2"]  # its time and args are no longer given
    assert fresh == [due("12:00", x="3"), due("13:00", x="1")]
    assert kept == [("r1", due("10:00", x="1")), ("r3", due("12:00", y="2", x="1")), ("r4", due("11:00", x="2"))]


def test_rematch_gives_each_kept_run_its_new_due_with_its_stop_time() -> None:
    existing: list[tuple[RunId, datetime, Mapping[str, str]]] = [(RunId("r1"), at("10:00"), {})]
    moved_stop = Due(time=at("10:00"), args={}, stop=at("10:30"))
    assert rematch(existing, [moved_stop]) == ([], [], [("r1", moved_stop)])


def test_rematch_counts_duplicates_at_the_same_time() -> None:
    two: list[tuple[RunId, datetime, Mapping[str, str]]] = [(RunId("r1"), at("10:00"), {}),
                                                             (RunId("r2"), at("10:00"), {})]
    assert rematch(two, [due("10:00")])[:2] == (["r2"], [])
    assert rematch(two, [due("10:00"), due("10:00")])[:2] == ([], [])
    assert rematch(two, [due("10:00")] * 3)[:2] == ([], [due("10:00")])
    assert rematch([], [due("11:00"), due("10:00")]) == ([], [due("10:00"), due("11:00")], [])
    assert rematch(two, []) == (["r1", "r2"], [], [])


def test_rematch_makes_no_new_run_for_a_slot_taken_by_a_run_past_scheduled() -> None:
    """A run starting (or finished ahead) stands for its due: not new; a scheduled twin of it is withdrawn."""
    taken = [(at("10:00"), {"x": "1"})]
    assert rematch([], [due("10:00", x="1"), due("11:00", x="1")], taken) == ([], [due("11:00", x="1")], [])
    twin: list[tuple[RunId, datetime, Mapping[str, str]]] = [(RunId("r1"), at("10:00"), {"x": "1"})]
    assert rematch(twin, [due("10:00", x="1")], taken) == (["r1"], [], [])
    assert rematch([], [due("10:00", x="1")] * 2, taken) == ([], [due("10:00", x="1")], [])  # two schedules
    assert rematch([], [due("10:00", x="2")], taken) == ([], [due("10:00", x="2")], [])  # other args: other slot


def test_rematch_after_a_real_change_of_interval() -> None:
    old, new = HOURLY, job('schedule: {type: interval, interval: 2h}\nprogram: "true"\n')
    made = expand(old, policy("6h"), at("10:00"), at("10:00"), 0).dues
    existing: list[tuple[RunId, datetime, Mapping[str, Any]]] = [
        (RunId(f"r{i}"), d.time, d.args) for i, d in enumerate(made, start=1)]
    gone, fresh, _ = rematch(existing, expand(new, policy("8h"), at("10:00"), at("10:00"), 0).dues)
    assert [f"{t:%H:%M}" for t in (made[0].time, made[-1].time)] == ["10:00", "15:00"]
    assert gone == ["r2", "r4", "r6"]  # 11:00, 13:00, 15:00
    assert [f"{d.time:%H:%M}" for d in fresh] == ["16:00"]
