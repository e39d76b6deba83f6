"""Nothing lost, nothing doubled: outcomes of runs that ended while no apsis was watching,
adoption of units that already exist, and a lost D-Bus connection."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentd.errors import RunNotFound
from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from tests.integration.conftest import apsis_units, finished, hosted, new_run_id, output, wait_until

# Another apsis process: starts the run (then maybe stops or signals it) and
# dies at once, as a crashed daemon would, without waiting for any outcome.
ONE_SHOT = """
import asyncio, json, os, sys
from agentd.host import Started
from agentd.local.host import LocalHost
from agentd.spec import RunSpec
async def main():
    spec, then = json.loads(sys.argv[1]), sys.argv[2]
    host = await LocalHost().open()
    await host.start(RunSpec(**spec))
    if then:  # its program running (Started): what is stopped or signalled is the program, not its start
        assert isinstance(await anext(aiter(host.events(spec["run_id"]))), Started)
    if then == "stop":
        await host.stop(spec["run_id"])
    elif then.startswith("kill:"):
        await host.kill(spec["run_id"], then[5:])
    os._exit(0)
asyncio.run(main())
"""


def start_elsewhere(then: str = "", **spec: object) -> None:
    subprocess.run([sys.executable, "-c", ONE_SHOT, json.dumps(spec), then], check=True, timeout=60)


def unit_gone_or_ended(unit: str) -> bool:
    state = subprocess.run(["systemctl", "show", "--value", "-p", "ActiveState", unit],
                           capture_output=True, text=True).stdout.strip()
    return state in ("inactive", "failed")


@pytest.mark.parametrize(
    ("shell", "then", "result", "exit_code", "stopped", "sent"),
    [
        ("sleep 0.5; exit 4", "", "exit-code", 4, False, ()),
        ("sleep 0.5; exit 0", "", "success", 0, False, ()),
        ("sleep 300", "stop", "success", None, True, ()),
        ("sleep 300", "kill:TERM", "success", None, False, ("TERM",)),
    ],
)
@hosted()
async def test_run_that_ended_while_no_apsis_ran_is_reported_exactly_once(
    host: LocalHost, shell: str, then: str, result: str, exit_code: int | None, stopped: bool, sent: tuple
) -> None:
    run_id = new_run_id()
    start_elsewhere(then, run_id=run_id, shell=shell)
    await wait_until(lambda: unit_gone_or_ended(f"apsis-{run_id}.service"), "the unit to end", timeout=30)
    end = await finished(host, run_id)  # asserts exactly one Finished, last
    assert (end.result, end.exit_code, end.stop_requested, end.signals_sent) == (result, exit_code, stopped, sent), end
    assert end.succeeded is (result == "success" and not stopped and not sent)
    assert end.invocation_id and len(end.invocation_id) == 32
    # And asked again, by a fresh apsis once the failed unit is released (the
    # first host lets it go without waiting), so this comes from the journal:
    # the same story, once.
    await wait_until(lambda: f"apsis-{run_id}.service" not in apsis_units(), "the unit to be released", timeout=30)
    async with LocalHost() as again:
        end_again = await finished(again, run_id)
    assert end_again.recovered
    assert (end_again.result, end_again.exit_code, end_again.stop_requested, end_again.signals_sent) == (
        result, exit_code, stopped, sent)
    assert f"apsis-{run_id}.service" not in apsis_units()


@hosted()
async def test_starting_an_existing_unit_adopts_it_and_runs_it_once(host: LocalHost, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    run_id = new_run_id()
    spec = {"run_id": run_id, "shell": f"echo ran >> {ran}; sleep 1; exit 6"}
    start_elsewhere(**spec)
    adoption = await host.start(RunSpec(**spec))  # type: ignore[arg-type]
    assert adoption.adopted
    again = await host.start(RunSpec(**spec))  # type: ignore[arg-type]
    assert again.adopted
    end = await finished(host, run_id)
    assert (end.result, end.exit_code) == ("exit-code", 6)
    assert ran.read_text() == "ran\n"


@hosted()
async def test_a_start_cancelled_before_its_unit_is_made_leaves_nothing_and_is_asked_again(
        host: LocalHost, tmp_path: Path) -> None:
    """apsisd gives up a start (its deadline, a shutdown) while the host still reads what it needs to make the
    unit: asked again, the run is made and runs, rather than being taken for a start already made."""
    ran = tmp_path / "ran"
    run_id = new_run_id()
    spec = RunSpec(run_id=run_id, shell=f"echo ran >> {ran}")
    at = datetime.now(UTC) + timedelta(seconds=1)
    first = asyncio.get_running_loop().create_task(host.start(spec, at=at))
    await asyncio.sleep(0)  # the start is on its way: reading the manager's start, the unit not yet asked for
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert apsis_units().count(f"apsis-{run_id}.service") == 0
    again = await host.start(spec, at=at)
    assert not again.adopted
    assert (await finished(host, run_id)).succeeded
    assert ran.read_text() == "ran\n"


@hosted()
async def test_lost_connection_is_restored_without_missing_an_outcome(host: LocalHost) -> None:
    long_run, short_run = new_run_id(), new_run_id()
    await host.start(RunSpec(run_id=long_run, shell="sleep 1; exit 5"))
    await host.start(RunSpec(run_id=short_run, shell="sleep 0.3; exit 7"))
    host.drop_bus()
    end = await finished(host, long_run)
    assert end.exit_code == 5
    assert (await finished(host, short_run)).exit_code == 7
    # and the new connection works for new runs
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, argv=("/bin/true",)))
    assert (await finished(host, run_id)).succeeded


@hosted(timeout=90)
async def test_outcome_of_a_run_that_ended_while_the_bus_was_down(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, shell="sleep 1; echo done; exit 9"))
    events = asyncio.create_task(finished(host, run_id))
    subprocess.run(["systemctl", "stop", "dbus.socket", "dbus.service"], check=True, timeout=30)
    try:
        # systemctl speaks to PID 1 over its private socket, not the bus: it sees the run end with no bus at all.
        await wait_until(lambda: unit_gone_or_ended(f"apsis-{run_id}.service"), "the run to end while the bus is down")
        assert not events.done()
    finally:
        subprocess.run(["systemctl", "start", "dbus.socket", "dbus.service"], check=True, timeout=30)
    end = await events
    assert end.exit_code == 9
    assert await output(host, run_id) == b"done\n"


@hosted()
async def test_an_outcome_nobody_reads_is_let_go_and_read_back_from_the_journal(host: LocalHost) -> None:
    async with LocalHost(call_timeout=10, keep_finished=0.3) as forgetful:
        run_id = new_run_id()
        await forgetful.start(RunSpec(run_id=run_id, shell="exit 6"))
        await wait_until(lambda: unit_gone_or_ended(f"apsis-{run_id}.service"), "the unit to end", timeout=30)
        await asyncio.sleep(1.0)  # past keep_finished: the host no longer holds the outcome in memory
        end = await finished(forgetful, run_id)
    assert end.recovered and end.exit_code == 6


@hosted()
async def test_a_unit_of_the_same_name_from_before_the_run_is_not_its_outcome(host: LocalHost) -> None:
    """A database recreated (or restored) numbers its runs again: r1's journal records may be another r1's.
    Asked about the run `since` it was committed to start, the host ignores what came before."""
    run_id = new_run_id()
    start_elsewhere(run_id=run_id, shell="exit 7")
    async with LocalHost(call_timeout=10) as old_view:
        assert (await finished(old_view, run_id)).exit_code == 7  # the journal tells the old run's end
    subprocess.run(["journalctl", "--sync"], check=True, timeout=30)  # the old run's records are all in
    since = datetime.now(UTC)
    with pytest.raises(RunNotFound):
        [event async for event in host.events(run_id, since=since)]
    result = await host.start(RunSpec(run_id=run_id, shell="exit 0"))  # the old failed unit was let go
    assert not result.adopted
    assert (await finished(host, run_id)).exit_code == 0
