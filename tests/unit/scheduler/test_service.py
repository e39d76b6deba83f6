"""The scheduler's loop and driver on the fake host with a moving clock: a due run committed as starting LEAD
ahead and armed on the host for its instant, its start and end recorded with the program's exit code, its stop
time kept; a host that refuses or fails a start, and one that forgets a run, recorded as the driver says."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agentd.errors import HostError, SpecError
from apsisd.runs.state import State
from apsisd.scheduler.outcome import STOP_TIME_REASON
from apsisd.scheduler.service import LEAD
from tests.unit.scheduler.rig import START, Rig, on_rig

HOURLY = """
    schedule: {type: interval, interval: 1h}
    program: "true"
"""
STOPPED = """
    schedule: {start: {type: interval, interval: 1h}, stop: 15m}
    program: "sleep 3600"
"""
NOON = START + timedelta(seconds=30)
HOUR = timedelta(hours=1)


async def started(rig: Rig) -> None:
    """apsisd started, and the job's runs up to its max_scheduled made."""
    await rig.start()
    await rig.until(lambda: len(rig.scheduled("j")) == 10)


def test_a_due_run_is_committed_lead_ahead_armed_for_its_instant_and_recorded_as_it_runs(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await started(rig)
        first, second = rig.scheduled("j")[:2]
        assert (first.schedule_time, second.schedule_time) == (NOON, NOON + HOUR)
        assert rig.host.starts == []
        rig.move_to(NOON - LEAD)
        await rig.until(lambda: len(rig.host.starts) == 1)
        assert rig.host.starts == [(first.id, NOON)]  # armed for its instant: the host starts it then
        starting = await rig.until_state(first.id, State.STARTING)
        assert starting.times[State.STARTING] == NOON - LEAD and starting.spec is not None
        assert rig.host.runs[first.id].started is None
        rig.move_to(NOON)
        running = await rig.until_state(first.id, State.RUNNING)
        assert (running.unit, running.lateness) == (f"apsis-{first.id}.service", 0.0)
        rig.host.finish(first.id, exit_code=0)
        done = await rig.until_state(first.id, State.SUCCESS, State.FAILURE, State.ERROR)
        assert (done.state, done.exit_code, done.reason) == (State.SUCCESS, 0, "exit code 0")
        # The next one, at its own instant, not before: the host is asked for nothing more until then.
        assert len(rig.host.starts) == 1
        rig.move_to(NOON + HOUR - LEAD)
        await rig.until_state(second.id, State.STARTING)
        assert rig.host.starts[1] == (second.id, NOON + HOUR)
        rig.move_to(NOON + HOUR)
        await rig.until_state(second.id, State.RUNNING)
        rig.host.finish(second.id, exit_code=3)
        done = await rig.until_state(second.id, State.SUCCESS, State.FAILURE, State.ERROR)
        assert (done.state, done.exit_code, done.reason) == (State.FAILURE, 3, "exit code 3")
        assert [entry.state for entry in await rig.log(second.id) if entry.state] == [
            State.SCHEDULED, State.STARTING, State.RUNNING, State.FAILURE]
    on_rig(tmp_path, {"j": HOURLY}, test)


def test_a_run_killed_by_a_signal_is_a_failure_that_says_so(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await started(rig)
        first = rig.scheduled("j")[0]
        rig.move_to(NOON)
        await rig.until_state(first.id, State.RUNNING)
        rig.host.finish(first.id, signal="KILL")
        done = await rig.until_state(first.id, State.SUCCESS, State.FAILURE, State.ERROR)
        assert (done.state, done.signal, done.reason) == (State.FAILURE, "KILL",
                                                          "killed by signal KILL, sent from outside apsis")
    on_rig(tmp_path, {"j": HOURLY}, test)


def test_a_run_is_stopped_at_its_stop_time_and_that_is_its_success(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await started(rig)
        first = rig.scheduled("j")[0]
        assert first.stop_time == NOON + timedelta(minutes=15)
        rig.move_to(NOON)
        await rig.until_state(first.id, State.RUNNING)
        rig.move_to(NOON + timedelta(minutes=15))
        done = await rig.until_state(first.id, State.SUCCESS, State.FAILURE, State.ERROR)
        assert done.state is State.SUCCESS and done.reason.startswith("stopped at its stop time: ")
        assert rig.host.runs[first.id].stop_requested
        assert STOP_TIME_REASON in [entry.message for entry in await rig.log(first.id)]
    on_rig(tmp_path, {"j": STOPPED}, test)


def test_a_start_the_host_cannot_make_is_an_error_that_says_why(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await started(rig)
        first = rig.scheduled("j")[0]
        rig.host.refusal = HostError("the bus is gone")
        rig.move_to(NOON)
        done = await rig.until_state(first.id, State.ERROR)
        assert done.reason == "could not start: the bus is gone"
        assert first.id not in rig.host.runs
    on_rig(tmp_path, {"j": HOURLY}, test)


def test_a_start_the_host_refuses_is_an_error_that_says_why(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await started(rig)
        first = rig.scheduled("j")[0]
        rig.host.refusal = SpecError("user", "no such user on this host")
        rig.move_to(NOON)
        done = await rig.until_state(first.id, State.ERROR)
        assert done.reason == "refused by the host: run spec field 'user': no such user on this host"
    on_rig(tmp_path, {"j": HOURLY}, test)


def test_a_run_the_host_forgets_while_it_runs_has_its_outcome_lost(tmp_path: Path) -> None:
    async def test(rig: Rig) -> None:
        await started(rig)
        first = rig.scheduled("j")[0]
        rig.move_to(NOON)
        await rig.until_state(first.id, State.RUNNING)
        rig.host.forget(first.id)
        done = await rig.until_state(first.id, State.SUCCESS, State.FAILURE, State.ERROR)
        assert (done.state, done.result) == (State.ERROR, "unknown")
        assert done.reason == "outcome lost: systemd result unknown"
    on_rig(tmp_path, {"j": HOURLY}, test)
