"""What a start after downtime decides, pure (recovery_plan.py): each run in flight picked up by its state, each
job taken up (missed runs caught up or skipped by its policy, its future runs fit to it, a gone job's runs
withdrawn or skipped), the jobs held left alone, the counts of the log line, the units let go. Jobs are built by
the job files' own parser; every time is passed in."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest
import yaml

from agentd.host import UnitState
from agentd.types import JobId, RunId
from apsisd.jobs.model import Job, JobSet
from apsisd.jobs.parse import JobParser
from apsisd.jobs.scheduling import DEFAULTS
from apsisd.runs.model import Origin, Run
from apsisd.runs.skips import job_not_loaded, missed_reason
from apsisd.runs.state import State
from apsisd.scheduler.plan import fit
from apsisd.scheduler.recovery_plan import (
    AT_START,
    Pickup,
    Recovery,
    TakeUp,
    ended_units,
    pickup,
    recovery,
    take_up,
    taken_up,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
HOURLY = 'schedule: {type: interval, interval: 1h}\nprogram: "true"\n'
STOPPED = 'schedule: {start: {type: interval, interval: 1h}, stop: 15m}\nprogram: "true"\n'
EVERY_2H = 'schedule: {type: interval, interval: 2h}\nprogram: "true"\n'
CAUGHT_UP = missed_reason("caught up")
NOT_LATEST = missed_reason("catchup is latest: the job's latest missed run starts instead")
NONE = missed_reason("catchup is none")


def job(job_id: str, text: str = HOURLY, catchup: str | None = None, max_age: str | None = None) -> Job:
    fields = yaml.safe_load(text)
    scheduling = {key: value for key, value in (("catchup", catchup), ("max_age", max_age)) if value is not None}
    if scheduling:
        fields["scheduling"] = scheduling
    return JobParser({}, [job_id]).parse(job_id, fields)


def jobs(*loaded: Job, held: Sequence[str] = ()) -> JobSet:
    return JobSet(jobs={JobId(each.id): each for each in loaded}, calendars={},
                  held=frozenset(JobId(each) for each in held))


def a_run(number: int, job_id: str, state: State = State.SCHEDULED, at: datetime = NOW, *,
          origin: Origin = Origin.SCHEDULE, stop_time: datetime | None = None) -> Run:
    return Run(id=RunId(f"r{number}"), job_id=JobId(job_id), state=state, schedule_time=at, origin=origin,
               times=MappingProxyType({state: at - HOUR}), stop_time=stop_time)


def plan(runs: Sequence[Run], the_jobs: JobSet, cursors: Mapping[str, datetime] | None = None, *,
         since: datetime | None = None, finished: Mapping[str, Sequence[Run]] | None = None) -> Recovery:
    return recovery(runs=runs, jobs=the_jobs, defaults=DEFAULTS,
                    cursors={JobId(job_id): cursor for job_id, cursor in (cursors or {}).items()},
                    now=NOW, since=since, finished={JobId(k): v for k, v in (finished or {}).items()})


def new_runs(taken: TakeUp) -> list[tuple[str, str, State, str]]:
    """Each new run as (job, HH:MM, state, reason), in the plan's order."""
    return [(each.job_id, f"{each.time:%H:%M}", each.state, each.reason) for each in taken.new]


def moved(taken: TakeUp) -> list[tuple[str, State, str]]:
    return [(run.id, run.state, entry.message) for run, entry in taken.moved]


# -- runs in flight ---------------------------------------------------------------------------------------------

PICKUPS = [
    ("starting", a_run(1, "j", State.STARTING), Pickup.FOLLOW_OR_START),
    ("running", a_run(1, "j", State.RUNNING), Pickup.FOLLOW),
    ("running with a stop time", a_run(1, "j", State.RUNNING, stop_time=NOW + HOUR), Pickup.FOLLOW_TO_STOP_TIME),
    ("stopping", a_run(1, "j", State.STOPPING, stop_time=NOW), Pickup.STOP_AGAIN),
    ("waiting", a_run(1, "j", State.WAITING), Pickup.WAIT),
    ("waiting, job gone", a_run(1, "gone", State.WAITING), Pickup.NOT_LOADED),
    ("waiting, job held", a_run(1, "held", State.WAITING), None),
    ("scheduled", a_run(1, "j"), None),
    ("scheduled, job gone", a_run(1, "gone"), None),
    ("starting, job held", a_run(1, "held", State.STARTING), Pickup.FOLLOW_OR_START),
    ("running, job held", a_run(1, "held", State.RUNNING), Pickup.FOLLOW),
    ("stopping, job held", a_run(1, "held", State.STOPPING), Pickup.STOP_AGAIN),
    ("running, job gone", a_run(1, "gone", State.RUNNING), Pickup.FOLLOW),
    ("running ad hoc", a_run(1, "j", State.RUNNING, origin=Origin.ADHOC), Pickup.FOLLOW),
]


@pytest.mark.parametrize(("what", "run", "expected"), PICKUPS, ids=[case[0] for case in PICKUPS])
def test_each_run_in_flight_is_picked_up_by_its_state(what: str, run: Run, expected: Pickup | None) -> None:
    assert pickup(run, jobs(job("j"), held=["held"])) is expected


def test_the_runs_in_flight_are_picked_up_in_the_stores_order_held_jobs_included() -> None:
    runs = [a_run(3, "held", State.RUNNING), a_run(1, "j", State.WAITING), a_run(2, "j", State.STARTING),
            a_run(4, "held", State.SCHEDULED, NOW - HOUR), a_run(5, "held", State.WAITING)]
    got = plan(runs, jobs(job("j"), held=["held"]), {"j": NOW + HOUR})
    assert [(run.id, how) for run, how in got.pickups] == [
        ("r3", Pickup.FOLLOW), ("r1", Pickup.WAIT), ("r2", Pickup.FOLLOW_OR_START)]
    assert (got.in_flight, got.held) == (5, 1)


# -- which jobs are taken up ---------------------------------------------------------------------------------

def test_a_start_takes_up_the_loaded_jobs_then_the_gone_ones_never_the_held() -> None:
    cursors = {JobId("gone"): NOW, JobId("held"): NOW, JobId("b"): NOW}
    assert taken_up(jobs(job("b"), job("a"), held=["held"]), cursors) == ["b", "a", "gone"]
    assert taken_up(jobs(), {}) == []


def test_a_held_jobs_runs_and_cursor_are_left_as_stored() -> None:
    runs = [a_run(1, "held", at=NOW - HOUR), a_run(2, "held", at=NOW + HOUR), a_run(3, "held", at=NOW)]
    got = plan(runs, jobs(held=["held"]), {"held": NOW - 5 * HOUR}).take_up
    assert got == TakeUp(new=[], withdrawn=[], moved=[], cursors={}, caught_up=0)


# -- a job no longer loaded ----------------------------------------------------------------------------------

def test_a_gone_jobs_runs_to_come_are_withdrawn_those_due_skipped_and_its_cursor_forgotten() -> None:
    runs = [a_run(1, "gone", at=NOW - HOUR), a_run(2, "gone", at=NOW), a_run(3, "gone", at=NOW + SECOND),
            a_run(4, "gone", at=NOW + HOUR)]
    got = plan(runs, jobs(), {"gone": NOW + 2 * HOUR}).take_up
    assert got.withdrawn == ["r3", "r4"]  # due after now: they never existed for systemd
    assert moved(got) == [("r1", State.SKIPPED, job_not_loaded(JobId("gone"))),  # due at now, or before: skipped
                          ("r2", State.SKIPPED, job_not_loaded(JobId("gone")))]
    assert got.cursors == {"gone": None}
    assert (got.new, got.caught_up, got.skipped) == ([], 0, 2)


def test_a_gone_job_without_a_cursor_has_none_to_forget() -> None:
    got = plan([a_run(1, "gone", at=NOW + HOUR)], jobs()).take_up
    assert (got.withdrawn, got.cursors) == (["r1"], {})


@pytest.mark.parametrize("origin", [Origin.ADHOC, Origin.RETRY, Origin.ACTION])
def test_runs_not_from_a_schedule_are_neither_withdrawn_skipped_nor_missed(origin: Origin) -> None:
    """An operator's or an action's run, or a retry, starts late: it is never a missed run."""
    runs = [a_run(1, "gone", at=NOW + HOUR, origin=origin), a_run(2, "gone", at=NOW - HOUR, origin=origin),
            a_run(3, "j", at=NOW - HOUR, origin=origin), a_run(4, "j", at=NOW + HOUR, origin=origin)]
    got = plan(runs, jobs(job("j", catchup="none")), {"j": NOW - 2 * HOUR}).take_up
    assert got.withdrawn == [] and all(run.id not in {"r1", "r2", "r3", "r4"} for run, _ in got.moved)
    assert [(job_id, hhmm) for job_id, hhmm, _, _ in new_runs(got)] == [("j", "10:00"), ("j", "11:00")]


@pytest.mark.parametrize("state", [State.WAITING, State.STARTING, State.RUNNING, State.STOPPING])
def test_a_gone_jobs_runs_past_scheduled_are_not_taken_up(state: State) -> None:
    got = plan([a_run(1, "gone", state, NOW + HOUR), a_run(2, "gone", state, NOW - HOUR)], jobs()).take_up
    assert (got.withdrawn, got.moved) == ([], [])


# -- missed runs ---------------------------------------------------------------------------------------------

def test_a_job_behind_catches_up_its_latest_missed_instant_and_skips_the_rest() -> None:
    """Down from 08:30 to 12:00, cursor at 09:30: 08:00 and 09:00 were made (scheduled), 10:00 and 11:00 never."""
    runs = [a_run(1, "j", at=NOW - 4 * HOUR), a_run(2, "j", at=NOW - 3 * HOUR)]
    got = plan(runs, jobs(job("j")), {"j": NOW - 150 * timedelta(minutes=1)}).take_up
    assert new_runs(got) == [("j", "10:00", State.SKIPPED, NOT_LATEST), ("j", "11:00", State.SCHEDULED, CAUGHT_UP)]
    assert moved(got) == [("r1", State.SKIPPED, NOT_LATEST), ("r2", State.SKIPPED, NOT_LATEST)]
    assert got.cursors == {"j": NOW}
    assert (got.caught_up, got.skipped, got.withdrawn) == (1, 3, [])


def test_catchup_all_starts_every_missed_run_stored_ones_as_they_are() -> None:
    runs = [a_run(1, "j", at=NOW - 3 * HOUR)]
    got = plan(runs, jobs(job("j", catchup="all")), {"j": NOW - 2 * HOUR}).take_up
    assert new_runs(got) == [("j", "10:00", State.SCHEDULED, CAUGHT_UP), ("j", "11:00", State.SCHEDULED, CAUGHT_UP)]
    assert got.moved == []  # r1 stays scheduled: due now, it starts late
    assert (got.caught_up, got.skipped) == (3, 0)


def test_catchup_none_skips_every_missed_run() -> None:
    runs = [a_run(1, "j", at=NOW - 3 * HOUR)]
    got = plan(runs, jobs(job("j", catchup="none")), {"j": NOW - 2 * HOUR}).take_up
    assert new_runs(got) == [("j", "10:00", State.SKIPPED, NONE), ("j", "11:00", State.SKIPPED, NONE)]
    assert moved(got) == [("r1", State.SKIPPED, NONE)]
    assert (got.caught_up, got.skipped, got.cursors) == (0, 3, {"j": NOW})


def test_since_skips_what_was_due_before_it_and_takes_what_was_due_at_it() -> None:
    since = NOW - 2 * HOUR
    got = plan([], jobs(job("j", catchup="all")), {"j": NOW - 4 * HOUR}, since=since).take_up
    before = missed_reason(f"before --since {since.isoformat()}")
    assert new_runs(got) == [("j", "08:00", State.SKIPPED, before), ("j", "09:00", State.SKIPPED, before),
                             ("j", "10:00", State.SCHEDULED, CAUGHT_UP), ("j", "11:00", State.SCHEDULED, CAUGHT_UP)]


def test_max_age_skips_what_is_older_and_takes_what_is_exactly_that_old() -> None:
    got = plan([], jobs(job("j", catchup="all", max_age="2h")), {"j": NOW - 4 * HOUR}).take_up
    old = missed_reason("older than max_age (7200 s)")
    assert [state for _, _, state, _ in new_runs(got)] == [State.SKIPPED, State.SKIPPED, State.SCHEDULED,
                                                          State.SCHEDULED]
    assert new_runs(got)[0][3] == old


def test_a_run_due_at_now_is_not_missed_and_a_cursor_at_now_is_not_behind() -> None:
    """At the instant itself nothing was missed: the run due now is the job's to start (fit keeps it)."""
    runs = [a_run(1, "j", at=NOW)]
    got = plan(runs, jobs(job("j", catchup="none")), {"j": NOW}).take_up
    assert (got.moved, got.caught_up, got.skipped, got.withdrawn) == ([], 0, 0, [])
    assert got.cursors == {"j": NOW + 10 * HOUR}  # fit: max_scheduled (10) runs, r1 kept for 12:00
    assert [hhmm for _, hhmm, _, _ in new_runs(got)][:2] == ["13:00", "14:00"]


def test_a_cursor_a_second_behind_now_makes_nothing_missed_but_moves_to_now() -> None:
    got = plan([], jobs(job("j", catchup="all")), {"j": NOW - SECOND}).take_up
    assert (got.new, got.cursors, got.caught_up) == ([], {"j": NOW}, 0)


def test_a_loaded_job_without_a_cursor_is_left_to_its_first_expansion_but_its_stored_runs_are_missed() -> None:
    runs = [a_run(1, "j", at=NOW - 2 * HOUR), a_run(2, "j", at=NOW - HOUR)]
    got = plan(runs, jobs(job("j")), {}).take_up
    assert got.cursors == {} and got.new == []
    assert moved(got) == [("r1", State.SKIPPED, NOT_LATEST)]  # r2, the latest, stays scheduled: due now
    assert got.caught_up == 1


# -- runs still to come ----------------------------------------------------------------------------------------

def test_a_job_edited_while_down_keeps_the_runs_it_still_gives_and_withdraws_the_others() -> None:
    """Stored hourly up to 16:00; the file now says every 2 h: 14:00 and 16:00 kept (same ids), 13:00 and 15:00
    withdrawn, 18:00 and on created."""
    runs = [a_run(n, "j", at=NOW + n * HOUR) for n in range(1, 5)]
    got = plan(runs, jobs(job("j", EVERY_2H)), {"j": NOW + 5 * HOUR}).take_up
    assert got.withdrawn == ["r1", "r3"]
    assert [hhmm for _, hhmm, _, _ in new_runs(got)][:3] == ["12:00", "18:00", "20:00"]
    assert new_runs(got)[0][3] == f"scheduled by the job's schedule ({AT_START})"
    assert got.moved == [] and got.cursors == {"j": NOW + 20 * HOUR}  # max_scheduled (10) runs, two kept


def test_a_kept_run_whose_stop_time_changed_is_moved() -> None:
    runs = [a_run(1, "j", at=NOW + HOUR), a_run(2, "j", at=NOW + 2 * HOUR, stop_time=NOW + 2 * HOUR + 15 * 60 * SECOND)]
    got = plan(runs, jobs(job("j", STOPPED)), {"j": NOW + 3 * HOUR}).take_up
    stop = NOW + HOUR + 15 * 60 * SECOND
    assert moved(got) == [("r1", State.SCHEDULED, f"stop time now {stop} ({AT_START})")]
    assert got.moved[0][0].stop_time == stop
    assert got.withdrawn == []


def test_a_slot_whose_run_is_past_scheduled_or_finished_ahead_gets_no_second_run() -> None:
    runs = [a_run(1, "j", State.STARTING, NOW), a_run(2, "j", State.RUNNING, NOW + HOUR)]
    skipped = a_run(3, "j", State.SKIPPED, NOW + 2 * HOUR)
    got = plan(runs, jobs(job("j")), {"j": NOW + 3 * HOUR}, finished={"j": [skipped]}).take_up
    assert [hhmm for _, hhmm, _, _ in new_runs(got)][:2] == ["15:00", "16:00"]


def test_fit_is_what_take_up_does_for_a_job_in_time() -> None:
    the_job, runs = job("j", EVERY_2H), [a_run(n, "j", at=NOW + n * HOUR) for n in range(1, 5)]
    fitted = fit(the_job, the_job.scheduling.over(DEFAULTS), NOW, runs, (), "why")
    got = take_up(runs=runs, job_ids=["j"], jobs={JobId("j"): the_job}, defaults=DEFAULTS,  # type: ignore[list-item]
                  cursors={JobId("j"): NOW}, now=NOW, since=None, finished={}, why="why")
    assert (got.withdrawn, got.new, got.moved, got.cursors) == (fitted.withdrawn, fitted.new, fitted.moved,
                                                                {"j": fitted.cursor})


# -- all of it at once -----------------------------------------------------------------------------------------

def test_a_start_with_every_case_counts_them_for_its_log_line_and_orders_the_new_runs() -> None:
    """The new runs are drafted in the plan's order (their ids follow it): first the runs fit to the jobs in
    time, job by job, then the missed ones, job by job."""
    runs = [a_run(1, "behind", at=NOW - 2 * HOUR),                   # missed: caught up, as it is
            a_run(2, "gone", at=NOW + HOUR), a_run(3, "gone", at=NOW - HOUR),  # withdrawn; skipped
            a_run(4, "intime", at=NOW - 3 * HOUR),                   # missed: skipped (catchup none)
            a_run(5, "intime", State.RUNNING, NOW - HOUR),           # followed
            a_run(6, "held", at=NOW - HOUR)]                         # left alone
    the_jobs = jobs(job("intime", EVERY_2H, catchup="none"), job("behind", catchup="all"), held=["held"])
    cursors = {"intime": NOW + HOUR, "behind": NOW - 90 * timedelta(minutes=1), "gone": NOW, "held": NOW}
    got = plan(runs, the_jobs, cursors)
    taken = got.take_up
    fitted = [(job_id, hhmm) for job_id, hhmm, _, reason in new_runs(taken) if "scheduled by" in reason]
    assert fitted == [("intime", f"{hour % 24:02d}:00") for hour in range(12, 32, 2)]  # max_scheduled: 10
    assert new_runs(taken)[len(fitted):] == [("behind", "11:00", State.SCHEDULED, CAUGHT_UP)]
    assert taken.withdrawn == ["r2"]
    assert moved(taken) == [("r3", State.SKIPPED, job_not_loaded(JobId("gone"))), ("r4", State.SKIPPED, NONE)]
    assert taken.cursors == {"gone": None, "intime": NOW + 20 * HOUR, "behind": NOW}
    assert (got.in_flight, taken.caught_up, taken.skipped, len(taken.withdrawn), got.held) == (6, 2, 2, 1, 1)
    assert [(run.id, how) for run, how in got.pickups] == [("r5", Pickup.FOLLOW)]


# -- units left loaded -----------------------------------------------------------------------------------------

def unit(number: int, active: str) -> UnitState:
    return UnitState(run_id=RunId(f"r{number}"), unit=f"apsis-r{number}.service", active_state=active,
                     sub_state="dead")


def test_the_units_let_go_are_those_ended_of_runs_not_in_flight() -> None:
    units = [unit(1, "failed"), unit(2, "inactive"), unit(3, "active"), unit(4, "activating"),
             unit(5, "deactivating"), unit(6, "failed"), unit(7, "inactive")]
    assert [each.run_id for each in ended_units(units, {RunId("r6"), RunId("r7"), RunId("r3")})] == ["r1", "r2"]
    assert ended_units([], set()) == []
