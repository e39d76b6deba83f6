"""The Host contract (agentd/host.py, docs/host.md), proved of every implementation in conftest.IMPLEMENTATIONS.

Each test speaks only the Host protocol; its programs come from the driver.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from agentd.errors import HostError, RunNotFound, SpecError
from agentd.host import Finished, Host, HostEvent, Started
from agentd.spec import Stream
from agentd.types import RunId
from tests.contract.conftest import Driver, contract, eventually, new_run_id

OUT, ERR = Stream.STDOUT, Stream.STDERR


async def story(host: Host, run_id: RunId, *, since: datetime | None = None, within: float = 30.0
                ) -> tuple[Started | None, Finished]:
    """The run's events, checked to be at most one Started and then exactly one Finished, last, told `within`."""
    events: list[HostEvent] = []
    try:
        async with asyncio.timeout(within):
            async for event in host.events(run_id, since=since):
                events.append(event)
    except TimeoutError:
        raise AssertionError(f"run {run_id}: no end told within {within} s, after {events}") from None
    starts = [e for e in events if isinstance(e, Started)]
    assert len(starts) <= 1 and events[: len(starts)] == starts, events
    assert len(events) == len(starts) + 1 and isinstance(events[-1], Finished), events
    return (starts[0] if starts else None), events[-1]


async def listed(host: Host, run_id: RunId) -> bool:
    return run_id in {unit.run_id for unit in await host.list()}


async def has_started(host: Host, run_id: RunId) -> Started:
    """The run's Started, once told (start() returns when the host has taken the start in, maybe before)."""
    async with contextlib.aclosing(host.events(run_id)) as events:  # type: ignore[type-var]
        first = await anext(events)
    assert isinstance(first, Started), first
    return first


@pytest.mark.parametrize(("exit_code", "result"), [(0, "success"), (3, "exit-code")])
@contract()
async def test_a_run_tells_it_started_then_how_it_ended(host: Host, driver: Driver, exit_code: int,
                                                        result: str) -> None:
    run_id = new_run_id()
    started = await host.start(driver.program(run_id, exit_code=exit_code))
    assert (started.run_id, started.adopted) == (run_id, False)
    start, end = await story(host, run_id)
    assert start is not None and (start.run_id, start.unit) == (run_id, started.unit)
    assert (end.run_id, end.unit, end.invocation_id) == (run_id, started.unit, start.invocation_id)
    assert (end.result, end.exit_code, end.signal) == (result, exit_code, None)
    assert end.succeeded is (exit_code == 0)
    assert not end.stop_requested and end.signals_sent == ()
    assert end.start_time is not None and end.end_time is not None and end.start_time <= end.end_time


@contract()
async def test_starting_a_run_again_adopts_it_and_runs_it_once(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    spec = driver.program(run_id, prints=[(OUT, b"ran\n")], exit_code=None)
    first = await host.start(spec)
    again = await host.start(spec)
    assert not first.adopted
    assert again.adopted and again.unit == first.unit
    await has_started(host, run_id)
    assert await host.start(spec) == again  # running now: still the same unit
    await driver.exit(run_id, 6)
    _start, end = await story(host, run_id)
    assert end.exit_code == 6
    assert b"".join([r.data async for r in host.output(run_id)]) == b"ran\n"


@contract()
async def test_events_asked_after_the_end_tell_the_one_finished_each_time(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    await host.start(driver.program(run_id, exit_code=4))
    await eventually(lambda: listed(host, run_id), "the run to end and its unit to go", until=False)
    for asked in ("first", "again"):
        start, end = await story(host, run_id)
        assert start is not None, f"asked {asked}, the run is told as one that never started"
        assert (end.result, end.exit_code, end.invocation_id) == ("exit-code", 4, start.invocation_id)


@contract()
async def test_a_run_the_host_has_no_trace_of_is_not_found(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    with pytest.raises(RunNotFound):
        await story(host, run_id)
    with pytest.raises(RunNotFound):
        await host.stop(run_id)
    with pytest.raises(RunNotFound):
        await host.kill(run_id, "TERM")
    assert [r async for r in host.output(run_id)] == []  # no output, rather than an error
    assert [r async for r in host.output(run_id, follow=True)] == []


@contract()
async def test_what_is_kept_of_an_earlier_run_of_the_same_name_is_not_the_runs(host: Host, driver: Driver) -> None:
    """A store recreated numbers its runs again: asked `since` the run was committed, the host ignores what ended
    before, and starts the run anew."""
    run_id = new_run_id()
    await host.start(driver.program(run_id, exit_code=7))
    assert (await story(host, run_id))[1].exit_code == 7
    await driver.settle()
    since = datetime.now(UTC)
    with pytest.raises(RunNotFound):
        await story(host, run_id, since=since)
    assert not (await host.start(driver.program(run_id, exit_code=0))).adopted
    _start, end = await story(host, run_id, since=since)
    assert end.exit_code == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"argv": ("/bin/true",), "shell": "true"}, "program"),
        ({"timeout": -1}, "timeout"),
        ({"grace_period": -0.5}, "stop.grace_period"),
        ({"stop_signal": "SIGNOPE"}, "stop.signal"),
        ({"cwd": "relative/dir"}, "cwd"),
        ({"env": {"BAD NAME": "x"}}, "env.BAD NAME"),
        ({"nice": 40}, "limits.nice"),
    ],
)
@contract()
async def test_a_bad_spec_is_refused_naming_its_field_and_starts_nothing(
    host: Host, driver: Driver, changes: dict[str, object], field: str
) -> None:
    run_id = new_run_id()
    before = await host.list()
    with pytest.raises(SpecError) as refused:
        await host.start(dataclasses.replace(driver.program(run_id), **changes))  # type: ignore[arg-type]
    assert refused.value.field == field
    assert await host.list() == before
    with pytest.raises(RunNotFound):
        await story(host, run_id)


@contract()
async def test_a_stopped_run_is_stopped_on_request_and_never_a_success(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    await host.start(driver.program(run_id, exit_code=None))
    await has_started(host, run_id)
    await host.stop(run_id)
    start, end = await story(host, run_id)
    assert start is not None
    assert end.stop_requested and not end.succeeded
    assert end.signal == "TERM"  # the spec's stop signal, the default
    await host.stop(run_id)  # an ended run: nothing to do, not an error
    assert not await listed(host, run_id)


@contract()
async def test_a_run_stopped_before_its_instant_ends_without_starting(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    await host.start(driver.program(run_id, exit_code=0), at=datetime.now(UTC) + timedelta(seconds=60))
    await host.stop(run_id)
    start, end = await story(host, run_id, within=15)
    assert start is None
    assert end.stop_requested and not end.succeeded
    assert not await listed(host, run_id)


@pytest.mark.parametrize(("sent", "signal", "result"), [(15, "TERM", "success"), ("SIGKILL", "KILL", "signal")])
@contract()
async def test_a_killed_run_tells_the_signals_sent_and_is_never_a_success(
    host: Host, driver: Driver, sent: str | int, signal: str, result: str
) -> None:
    run_id = new_run_id()
    await host.start(driver.program(run_id, exit_code=None))
    await has_started(host, run_id)
    with pytest.raises(SpecError) as bad:
        await host.kill(run_id, "NOPE")
    assert bad.value.field == "signal"
    await host.kill(run_id, sent)
    _start, end = await story(host, run_id)
    assert (end.result, end.signal, end.signals_sent) == (result, signal, (signal,))  # systemd's word, then ours:
    assert not end.succeeded and not end.stop_requested
    with pytest.raises(HostError, match="has ended"):
        await host.kill(run_id, signal)


@contract()
async def test_a_run_started_at_an_instant_starts_no_earlier(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    at = datetime.now(UTC) + timedelta(seconds=0.7)
    await host.start(driver.program(run_id, exit_code=4), at=at)
    (unit,) = [u for u in await host.list() if u.run_id == run_id]
    assert unit.active_state == "inactive"  # armed: its unit is there, not started
    start, end = await story(host, run_id)
    assert start is not None and start.start_time is not None and start.start_time >= at
    assert end.exit_code == 4


@contract()
async def test_list_shows_a_running_runs_unit_then_not_once_it_ended(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    started = await host.start(driver.program(run_id, exit_code=None))
    await has_started(host, run_id)
    (unit,) = [u for u in await host.list() if u.run_id == run_id]
    assert (unit.unit, unit.active_state, unit.sub_state) == (started.unit, "active", "running")
    await driver.exit(run_id, 0)
    await story(host, run_id)
    assert not await listed(host, run_id)


@contract()
async def test_output_is_in_order_with_cursors_and_resumes_after_one(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    lines = [b"one\n", b"caf\xe9 \xff\n", b"<3>three\n", b"four\n", b"no end"]
    await host.start(driver.program(run_id, prints=[(OUT, line) for line in lines]))
    await story(host, run_id)
    records = [r async for r in host.output(run_id)]
    assert [r.data for r in records] == lines
    assert len({r.cursor for r in records}) == len(lines)
    assert [r.data async for r in host.output(run_id, after_cursor=records[1].cursor)] == lines[2:]
    followed = [r.data async for r in host.output(run_id, follow=True, after_cursor=records[3].cursor)]
    assert followed == lines[4:]  # the run has ended: following ends once all is read
    with pytest.raises(HostError, match="cursor"):
        [r async for r in host.output(run_id, after_cursor="not-a-cursor")]


@contract()
async def test_following_output_gives_lines_as_written_and_ends_with_the_run(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    await host.start(driver.program(run_id, prints=[(OUT, b"one\n"), (ERR, b"two\n")], exit_code=None))
    got: list[bytes] = []

    async def follow() -> None:
        async for record in host.output(run_id, follow=True):
            got.append(record.data)

    async with asyncio.TaskGroup() as group:
        follower = group.create_task(follow(), name=f"follow:{run_id}")
        await eventually(lambda: len(got) == 2, "both lines, while the run goes on")
        assert not follower.done()
        await driver.exit(run_id, 0)
    assert got == [b"one\n", b"two\n"]


@contract()
async def test_a_split_runs_output_is_read_stream_by_stream(host: Host, driver: Driver) -> None:
    run_id = new_run_id()
    prints = [(OUT, b"out1\n"), (ERR, b"err1\n"), (OUT, b"out2\n"), (ERR, b"err2")]
    await host.start(driver.program(run_id, prints=prints, exit_code=3, split=True))
    assert (await story(host, run_id))[1].exit_code == 3
    outs = [(r.data, r.priority) async for r in host.output(run_id, stream=OUT)]
    errs = [(r.data, r.priority) async for r in host.output(run_id, stream=ERR)]
    assert outs == [(b"out1\n", 6), (b"out2\n", 6)]
    assert errs == [(b"err1\n", 3), (b"err2", 3)]
    both = [(r.data, r.priority) async for r in host.output(run_id)]
    assert sorted(both) == sorted(outs + errs)  # each stream in its order; across the two, as journald read them
    assert [r.data async for r in host.output(run_id, follow=True, stream=ERR)] == [b"err1\n", b"err2"]
