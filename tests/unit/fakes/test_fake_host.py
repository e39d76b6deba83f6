"""FakeHost's own knobs, the ones the contract suite (tests/contract) does not reach: the test's clock, the
programs' deaths and output as the test plays them, a forgotten run."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from agentd.errors import RunNotFound
from agentd.host import Finished, HostEvent, Started
from agentd.spec import RunSpec, Stream
from agentd.types import RunId
from tests.fakes.host import FakeHost
from tests.unit.scheduler.fake_clock import SetClock

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
R = RunId("r1")


def scenario(test: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        async with asyncio.timeout(5):
            await test()

    asyncio.run(main())


async def told(host: FakeHost, run_id: RunId = R) -> list[HostEvent]:
    return [event async for event in host.events(run_id)]


def spec(run_id: RunId = R, **kwargs: object) -> RunSpec:
    return RunSpec(run_id=run_id, argv=("/usr/bin/program",), **kwargs)  # type: ignore[arg-type]


def test_with_the_tests_clock_an_armed_run_starts_when_told_its_instant_has_come() -> None:
    async def test() -> None:
        clock = SetClock(T0)
        host = FakeHost(now=clock.now)
        begun: list[RunId] = []
        host.on_start = begun.append
        await host.start(spec(), at=T0 + timedelta(minutes=5))
        clock.at = T0 + timedelta(minutes=4)
        host.start_due()
        assert begun == [] and [u.active_state for u in await host.list()] == ["inactive"]
        clock.at = T0 + timedelta(minutes=5)
        host.start_due()
        assert begun == [R]
        host.finish(R)
        started, end = await told(host)
        assert isinstance(started, Started) and started.start_time == T0 + timedelta(minutes=5)
        assert isinstance(end, Finished) and end.end_time == T0 + timedelta(minutes=5)

    scenario(test)


@pytest.mark.parametrize(
    ("how", "ending"),
    [
        ({"exit_code": 0}, ("success", 0, None)),
        ({"exit_code": 2}, ("exit-code", 2, None)),
        ({"signal": "TERM"}, ("success", None, "TERM")),  # systemd's word for a clean signal
        ({"signal": 9}, ("signal", None, "KILL")),
        ({"signal": "KILL", "result": "oom-kill"}, ("oom-kill", None, "KILL")),
    ],
)
def test_a_program_ends_as_the_test_says(how: dict[str, object], ending: tuple[object, ...]) -> None:
    async def test() -> None:
        host = FakeHost()
        await host.start(spec())
        host.finish(R, **how)  # type: ignore[arg-type]
        end = (await told(host))[-1]
        assert isinstance(end, Finished)
        assert (end.result, end.exit_code, end.signal) == ending
        assert end.succeeded is (ending[0] == "success" and ending[2] is None)
        with pytest.raises(ValueError, match="has ended"):
            host.finish(R)

    scenario(test)


def test_a_program_outlives_a_signal_that_does_not_end_a_process() -> None:
    async def test() -> None:
        host = FakeHost()
        await host.start(spec())
        await host.kill(R, "CONT")
        assert [u.run_id for u in await host.list()] == [R]
        await host.kill(R, "USR1")
        end = (await told(host))[-1]
        assert isinstance(end, Finished)
        assert (end.result, end.signal, end.signals_sent) == ("signal", "USR1", ("CONT", "USR1"))

    scenario(test)


def test_a_forgotten_run_ends_unknown_for_its_follower_and_is_not_found_after() -> None:
    async def test() -> None:
        host = FakeHost()
        await host.start(spec())
        follower = asyncio.create_task(told(host), name="follower")
        await asyncio.sleep(0)
        host.forget(R)
        _started, end = await follower
        assert isinstance(end, Finished)
        assert (end.result, end.end_time, end.recovered) == ("unknown", None, True)
        with pytest.raises(RunNotFound):
            await told(host)
        assert not (await host.start(spec())).adopted
        with pytest.raises(ValueError, match="not on this host"):
            host.forget(RunId("r2"))

    scenario(test)


def test_what_a_program_writes_is_a_record_per_line_on_its_stream() -> None:
    async def test() -> None:
        host = FakeHost()
        await host.start(spec(RunId("one")))
        await host.start(spec(RunId("split"), split_output=True))
        for run_id in (RunId("one"), RunId("split")):
            host.write(run_id, b"a\nb\n\nc", stream=Stream.STDERR)
        one = [(r.data, r.priority) async for r in host.output(RunId("one"))]
        split = [(r.data, r.priority) async for r in host.output(RunId("split"))]
        assert one == [(b"a\n", 6), (b"b\n", 6), (b"\n", 6), (b"c", 6)]  # one stream: stderr is stdout's
        assert split == [(b"a\n", 3), (b"b\n", 3), (b"\n", 3), (b"c", 3)]
        await host.start(spec(RunId("armed")), at=datetime.now(UTC) + timedelta(hours=1))
        with pytest.raises(ValueError, match="not started"):
            host.write(RunId("armed"), b"x\n")

    scenario(test)
