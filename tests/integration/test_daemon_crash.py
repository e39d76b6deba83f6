"""apsisd end to end: kill -9 while 20 runs are on the host and 10 more come due, then a restart.

Every run's program appends its run id to a file and exits with its own
code (i % 3), so the test sees that every run ran exactly once and that the
outcome recorded is the one the program gave, whether apsisd saw the end
itself or learned it from the journal after the restart.
"""
from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from agentd.spec import RunSpec
from agentd.types import JobId
from apsisd.runs.model import Run
from apsisd.runs.state import State
from apsisd.store.base import Changes
from tests.integration.api import post
from tests.integration.conftest import apsis_units
from tests.integration.daemon import Daemon, finished, soon, with_daemon
from tests.integration.test_api_access import free_port

FIRST, THEN = 20, 10


def _active_units() -> list[str]:
    out = subprocess.run(["systemctl", "list-units", "--state=active,activating,deactivating", "--plain",
                          "--no-legend", "apsis-*"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _first(runs: list[Run]) -> list[Run]:
    return [run for run in runs if int(run.args["i"]) < FIRST]


def _then(runs: list[Run]) -> list[Run]:
    return [run for run in runs if int(run.args["i"]) >= FIRST]


# When apsisd is killed: what must hold in its store (polled) for the kill to go ahead.
MOMENTS = {
    # the first of the 20 committed as starting: others are still scheduled, some being started on the host
    "starting": lambda runs: any(run.state is not State.SCHEDULED for run in runs),
    # all 20 running, the 10 not yet due
    "running": lambda runs: len(_first(runs)) == FIRST and all(run.state is State.RUNNING for run in _first(runs)),
    # the first of the 10 on its way: the rest of them being started
    "due": lambda runs: any(run.state is not State.SCHEDULED for run in _then(runs)),
}


@pytest.mark.parametrize("moment", ["starting", "running", "due", "ended_while_down"])
@with_daemon(timeout=90)
async def test_kill_9_then_restart_loses_no_run_and_starts_none_twice(daemon: Daemon, moment: str) -> None:
    ids = daemon.root / "ids"
    first, then = soon(2), soon(3)
    schedules = ", ".join(
        f'{{type: explicit, times: ["{first if i < FIRST else then}"], args: {{i: "{i}"}}}}'
        for i in range(FIRST + THEN))
    daemon.job("w", f"""
        params: [i]
        schedule: [{schedules}]
        program: 'echo $APSIS_RUN_ID >> {ids}; sleep 1.5; i={{{{ i }}}}; exit $((i % 3))'
        scheduling: {{catchup: all}}
    """)
    await daemon.start()
    await daemon.wait_runs(MOMENTS["running" if moment == "ended_while_down" else moment], "w", moment, poll=0.002)
    await daemon.kill()
    at_kill = await daemon.runs("w")
    if moment == "ended_while_down":
        # The 20 end while apsisd is down (their outcomes can only come from the journal), and by then the 10
        # are due (a second after the 20; each run takes 1.5 s).
        await daemon.wait_runs(lambda _: not _active_units() and len(ids.read_text().split()) == FIRST, "w",
                               "the 20 ended")
        assert [run.state for run in _first(at_kill)] == [State.RUNNING] * FIRST
    await daemon.start()
    await daemon.wait_log("action=recovered", count=2)

    runs = await daemon.wait_runs(lambda runs: len(runs) >= FIRST + THEN and all(run.finished for run in runs), "w",
                                  "all 30 runs finished")
    assert sorted(int(run.args["i"]) for run in runs) == list(range(FIRST + THEN))  # one run per schedule
    started = Counter(ids.read_text().split())
    assert [run_id for run_id, count in started.items() if count > 1] == []  # none started twice
    assert sorted(started) == sorted(run.id for run in runs)  # none lost
    for run in runs:
        code = int(run.args["i"]) % 3
        expected = (State.SUCCESS, 0, "exit code 0") if code == 0 else (State.FAILURE, code, f"exit code {code}")
        assert (run.state, run.exit_code, run.reason) == expected, (run.id, run.args, run.reason)
        assert run.unit == f"apsis-{run.id}.service" and run.invocation_id
        log = [entry.state for entry in await daemon.entries(run.id) if entry.state]
        assert log in ([State.SCHEDULED, State.STARTING, State.RUNNING, run.state],
                       [State.SCHEDULED, State.STARTING, run.state]), (run.id, log)


@with_daemon()
async def test_a_starting_run_never_started_is_started_even_if_an_older_unit_had_its_name(daemon: Daemon) -> None:
    """apsisd died between committing `starting` and asking systemd; the journal holds an older unit of the same
    name (a state folder wiped, another apsisd): the run must still be started, not given that unit's end."""
    ran = daemon.root / "ran"
    await daemon.start()
    assert await daemon.stop() == 0
    assert daemon.store is not None
    (run_id,) = daemon.store.new_ids(1)
    unit = f"apsis-{run_id}.service"
    subprocess.run(["systemd-run", "--quiet", "--wait", f"--unit={unit}", "true"], check=True, timeout=30)
    subprocess.run(["journalctl", "--sync"], check=True, timeout=30)  # its records are in before the run starts
    now = datetime.now(UTC)
    await daemon.store.commit(Changes(runs=[Run(
        id=run_id, job_id=JobId("j"), state=State.STARTING, schedule_time=now,
        times=MappingProxyType({State.SCHEDULED: now, State.STARTING: now}),
        spec=RunSpec(run_id=run_id, job_id=JobId("j"), shell=f"echo {run_id} > {ran}; exit 3"))]))
    await daemon.start()
    (run,) = await daemon.wait_runs(finished(1), what="the run's end")
    assert (run.state, run.exit_code) == (State.FAILURE, 3)
    assert ran.read_text().split() == [run_id]


@with_daemon()
async def test_actions_owed_when_apsisd_died_run_on_the_next_start(daemon: Daemon) -> None:
    """A transition is committed with the actions it owes; apsisd died before they ran (the store is left as
    that crash leaves it): the next start runs them, once, and crosses them off."""
    daemon.job("first", "params: [day]\nprogram: 'true'\nsuccessors: [second]\n")
    daemon.job("second", "params: [day]\nprogram: 'true'\n")
    await daemon.start()
    assert await daemon.stop() == 0
    assert daemon.store is not None
    (run_id,) = daemon.store.new_ids(1)
    now = datetime.now(UTC)
    await daemon.store.commit(Changes(
        runs=[Run(id=run_id, job_id=JobId("first"), args=MappingProxyType({"day": "mon"}), state=State.SUCCESS,
                  schedule_time=now, times=MappingProxyType({State.SCHEDULED: now, State.SUCCESS: now}))],
        actions_owed=[(run_id, State.SUCCESS)]))
    await daemon.start()
    (second,) = await daemon.wait_runs(finished(1), "second", "the successor's run")
    assert (second.state, dict(second.args), second.previous) == (State.SUCCESS, {"day": "mon"}, run_id)
    assert await daemon.store.actions_owed() == []
    assert await daemon.stop() == 0
    await daemon.start()  # crossed off: not run again
    assert len(await daemon.runs("second")) == 1


class Hook:
    """A webhook's receiver on 127.0.0.1: each post put in `posts` as it comes, none answered until `answer`."""

    def __init__(self) -> None:
        self.posts: asyncio.Queue[bytes] = asyncio.Queue()
        self.answer = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.posts.put_nowait(await reader.readuntil(b"\r\n\r\n"))
            await self.answer.wait()
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # its apsisd was killed
        finally:
            writer.close()


@with_daemon()
async def test_a_successor_is_made_once_when_apsisd_is_killed_before_its_action_is_crossed_off(daemon: Daemon
                                                                                                ) -> None:
    """The campaign's r2000096 made its successor r2000100, apsisd was killed 25 ms later, before the action was
    crossed off, and the next start made r2000109. Here a webhook of the same transition, not answered, holds
    the crossing-off until apsisd is killed, once the successor exists. The next start runs the owed actions
    again: the webhook is posted again (at least once), the successor is not made again (exactly once)."""
    hook = Hook()
    port = free_port()
    daemon.job("first", f"""
        program: 'true'
        action: {{type: webhook, url: "http://127.0.0.1:{port}/hook", timeout: 60s, retries: 0}}
        successors: [second]
    """)
    daemon.job("second", "program: 'true'\n")
    async with await asyncio.start_server(hook.serve, "127.0.0.1", port):
        await daemon.start()
        status, made = await post("/api/v1/runs", {"job_id": "first"})
        assert status == 201, made
        (successor,) = await daemon.wait_runs(lambda runs: len(runs) == 1, "second", "the successor")
        await hook.posts.get()
        assert daemon.store is not None
        assert [owed[:2] for owed in await daemon.store.actions_owed()] == [
            (successor.previous, State.SUCCESS)]  # not crossed off: the webhook holds it
        await daemon.kill()
        await daemon.start()
        await hook.posts.get()  # the owed actions run again
        hook.answer.set()
        while await daemon.store.actions_owed():
            await asyncio.sleep(0.05)
        assert [run.id for run in await daemon.runs("second")] == [successor.id]
        assert await daemon.stop() == 0


@with_daemon()
async def test_a_failed_unit_a_dead_apsisd_left_loaded_is_let_go_on_the_next_start(daemon: Daemon) -> None:
    """apsisd died between recording a run's end and resetting its failed unit (which systemd keeps loaded until
    then, for ever): the next start lets it go, and records nothing new for the run."""
    await daemon.start()
    assert await daemon.stop() == 0
    assert daemon.store is not None
    (run_id,) = daemon.store.new_ids(1)
    now = datetime.now(UTC)
    await daemon.store.commit(Changes(runs=[Run(
        id=run_id, job_id=JobId("gone"), state=State.FAILURE, schedule_time=now, reason="exit code 1",
        times=MappingProxyType({State.SCHEDULED: now, State.FAILURE: now}))]))
    unit = f"apsis-{run_id}.service"
    subprocess.run(["systemd-run", "--quiet", f"--unit={unit}", "--slice=apsis.slice", "false"], check=True)
    async with asyncio.timeout(10):
        while unit not in apsis_units():
            await asyncio.sleep(0.05)
    await daemon.start()
    async with asyncio.timeout(20):
        while unit in apsis_units():
            await asyncio.sleep(0.1)
    stored = await daemon.store.get(run_id)
    assert (stored.state, stored.reason) == (State.FAILURE, "exit code 1")
