"""RemoteHost over real SSH to a sandbox peer, across each failure it must survive: nothing lost, nothing doubled.

Runs inside the main sandbox with peers (tools/sandbox.py run --hosts 2):
the peer is a host with its own systemd and sshd, behind a link this side
can cut (tests/sandbox_hosts.py). Each test starts runs, breaks something
while they run (the link, agentd, sshd, the host key), lets them end across
it, and checks every run's outcome (exactly one Finished, the program's own
exit code) and output (every line once, in order). The programs are shell
loops whose gate files live in the test's folder under the checkout, which
every sandbox shares: the test opens a gate even while the link is down.
"""
from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentd.errors import HostError
from agentd.host import Finished, HostEvent, Started
from agentd.remote.host import RemoteHost
from agentd.remote.link import Link, ProcessLink
from agentd.remote.ssh import explainer, ssh_argv
from agentd.spec import RunSpec
from agentd.types import RunId
from tests.sandbox_hosts import SandboxPeer, changed_host_key, link_cut, on_peer, peers, restart_sshd

ALIVE = {"connect_timeout": 2, "alive_interval": 1, "alive_count": 2}  # ssh notices a cut within ~3 s
PING_EVERY = 1.0
WITHIN = 60.0  # seconds for a whole test


@pytest.fixture
def peer() -> SandboxPeer:
    return peers()[0]


@contextlib.asynccontextmanager
async def remote(peer: SandboxPeer, ping_every: float = PING_EVERY) -> AsyncIterator[RemoteHost]:
    """RemoteHost over apsis's key to the peer, with short keep-alives, linked before it is handed over."""
    target = peer.target(**ALIVE)  # type: ignore[arg-type]

    async def connect() -> Link:
        return await ProcessLink.spawn(ssh_argv(target), peer.name)

    async with RemoteHost(peer.name, connect, scheduler="faults", call_timeout=30.0, ping_every=ping_every,
                          explain=explainer(peer.name, target)) as host:
        await host.list()
        yield host


class Program:
    """A shell program on the peer: prints `before` lines, says it started (a file), waits for its gate, prints
    `after` lines, exits with `code`."""

    def __init__(self, folder: Path, *, before: int = 5, after: int = 5, code: int = 0) -> None:
        self.run_id = RunId(f"f{uuid.uuid4().hex[:12]}")
        self.folder = folder
        self.before, self.after, self.code = before, after, code
        self.gate = folder / f"{self.run_id}.gate"
        self.started = folder / f"{self.run_id}.started"

    @property
    def spec(self) -> RunSpec:
        gate, started = shlex.quote(str(self.gate)), shlex.quote(str(self.started))
        total = self.before + self.after
        shell = (f"seq -f 'line %g' 1 {self.before}; touch {started}; "
                 f"while [ ! -e {gate} ]; do sleep 0.05; done; "
                 f"seq -f 'line %g' {self.before + 1} {total}; exit {self.code}")
        return RunSpec(run_id=self.run_id, shell=shell, grace_period=5)

    @property
    def lines(self) -> list[bytes]:
        return [f"line {i}\n".encode() for i in range(1, self.before + self.after + 1)]

    def open(self) -> None:
        self.gate.touch()

    async def has_started(self, within: float = 20.0, why: str = "") -> None:
        """Until the program has printed its first lines (seen through the shared folder, not the link)."""
        try:
            async with asyncio.timeout(within):
                while not self.started.exists():
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"{self.run_id} not started on the peer within {within} s{why}") from None


class Watch:
    """A run's events and output, read by RemoteHost as the scheduler would, from before the fault to the end."""

    def __init__(self, host: RemoteHost, run_id: RunId) -> None:
        self.events: list[HostEvent] = []
        self.output: list[bytes] = []
        self._tasks = [
            asyncio.create_task(self._events(host, run_id), name=f"events:{run_id}"),
            asyncio.create_task(self._output(host, run_id), name=f"output:{run_id}"),
        ]

    async def _events(self, host: RemoteHost, run_id: RunId) -> None:
        async for event in host.events(run_id):
            self.events.append(event)

    async def _output(self, host: RemoteHost, run_id: RunId) -> None:
        async for record in host.output(run_id, follow=True):
            self.output.append(record.data)

    async def started(self, within: float = 20.0) -> Started:
        async with asyncio.timeout(within):
            while not self.events:
                await asyncio.sleep(0.05)
        assert isinstance(self.events[0], Started), self.events
        return self.events[0]

    async def ended(self, program: Program, within: float = 40.0) -> Finished:
        """Both streams read to their end: exactly one Started then one Finished, with the program's exit code;
        every line once, in order."""
        try:
            async with asyncio.timeout(within):
                await asyncio.gather(*self._tasks)
        except TimeoutError:
            raise AssertionError(f"{program.run_id}: not ended within {within} s: {self.events}, "
                                 f"{len(self.output)} lines") from None
        assert [type(e) for e in self.events] == [Started, Finished], self.events
        finished = self.events[-1]
        assert isinstance(finished, Finished)
        assert (finished.result, finished.exit_code) == (("success", 0) if program.code == 0 else
                                                         ("exit-code", program.code)), finished
        assert self.output == program.lines
        return finished

    async def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def unreachable(host: RemoteHost, within: float = 15.0) -> float:
    """Until RemoteHost has seen its link go; how long that took."""
    begun = time.monotonic()
    async with asyncio.timeout(within):
        while host.reachable:
            await asyncio.sleep(0.05)
    return time.monotonic() - begun


async def peer_run(peer: SandboxPeer, argv: list[str], known_hosts: Path | None = None) -> str:
    done = await asyncio.to_thread(on_peer, peer, argv, known_hosts)
    assert done.returncode == 0, (argv, done.returncode, done.stderr)
    return done.stdout


async def units_of(peer: SandboxPeer, run_id: RunId) -> list[str]:
    """The peer's systemd units of the run, loaded or not, as systemctl lists them."""
    listed = await peer_run(peer, ["systemctl", "list-units", "--all", "--plain", "--no-legend", "apsis-*"])
    return [line.split()[0] for line in listed.splitlines() if run_id in line]


async def running(host: RemoteHost, program: Program) -> tuple[Program, Watch]:
    """The program started on the host, its Started told and the program seen running."""
    await host.start(program.spec)
    watch = Watch(host, program.run_id)
    await watch.started()
    await program.has_started()
    return program, watch


def test_a_link_cut_mid_run_loses_and_doubles_nothing(peer: SandboxPeer, tmp_path: Path) -> None:
    async def main() -> None:
        async with asyncio.timeout(WITHIN), remote(peer) as host:
            program, watch = await running(host, Program(tmp_path, code=3))
            with link_cut(peer):
                noticed = await unreachable(host)
                assert noticed < 6, f"the cut noticed after {noticed:.1f} s"
                program.open()  # the run ends while the link is down
                host.call_timeout = 2.0  # the calls asked now; the streams above wait on with 30 s
                asked = time.monotonic()
                with pytest.raises(HostError, match=rf"^host {peer.name} unreachable since "
                                                    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: ") as refused:
                    await host.list()
                assert 2.0 <= time.monotonic() - asked < 5.0
                assert not host.reachable and host.problem in str(refused.value)
                await asyncio.sleep(1.0)
                host.call_timeout = 30.0
            await watch.ended(program)
            assert host.reachable

    asyncio.run(main())


def test_agentd_killed_mid_run_is_linked_again_by_itself(peer: SandboxPeer, tmp_path: Path) -> None:
    async def main() -> None:
        async with asyncio.timeout(WITHIN), remote(peer) as host:
            program, quick = Program(tmp_path, code=4), Program(tmp_path, before=2, after=0)
            await host.start(program.spec)
            watch = Watch(host, program.run_id)
            await watch.started()
            await program.has_started()
            await peer_run(peer, ["pkill", "-KILL", "-f", "[a]gentd serve"])  # [a]: not pkill's own shell
            await unreachable(host)
            program.open()
            await host.start(quick.spec)  # on the link RemoteHost makes again
            quick.open()
            await asyncio.gather(watch.ended(program), Watch(host, quick.run_id).ended(quick))
            assert host.reachable

    asyncio.run(main())


def test_sshd_restarted_mid_run_loses_nothing(peer: SandboxPeer, tmp_path: Path) -> None:
    async def main() -> None:
        async with asyncio.timeout(WITHIN), remote(peer) as host:
            program, watch = await running(host, Program(tmp_path, code=5))
            await asyncio.to_thread(restart_sshd, peer)
            program.open()
            await watch.ended(program)
            # The session outlived its sshd; the next one is made through the new sshd.
            await peer_run(peer, ["pkill", "-KILL", "-f", "[a]gentd serve"])
            after = Program(tmp_path, code=6)
            await host.start(after.spec)
            after.open()
            await Watch(host, after.run_id).ended(after)

    asyncio.run(main())


def test_a_start_whose_answer_was_lost_is_adopted_once(peer: SandboxPeer, tmp_path: Path) -> None:
    """agentd takes the start in, but its answer meets a cut link: the start asked again adopts the unit.

    To hold the answer back, agentd is frozen (SIGSTOP) before the start is
    sent, the link is cut with the request in agentd's pipe, and agentd is
    thawed on the peer (by a unit waiting on a file of the shared folder):
    it starts the unit and answers into the cut link.
    """
    async def main() -> None:
        # Pings far apart: the frozen agentd must not be given up before the link is cut.
        async with asyncio.timeout(WITHIN), remote(peer, ping_every=5.0) as host:
            program = Program(tmp_path, code=7)
            thaw = tmp_path / f"{program.run_id}.thaw"
            await peer_run(peer, ["systemd-run", "--quiet", "--collect", f"--unit=thaw-{program.run_id}", "sh", "-c",
                                  f"while [ ! -e {shlex.quote(str(thaw))} ]; do sleep 0.05; done; "
                                  "pkill -CONT -f '[a]gentd serve'"])
            await peer_run(peer, ["pkill", "-STOP", "-f", "[a]gentd serve"])
            starting = asyncio.create_task(host.start(program.spec), name="start")
            await asyncio.sleep(0.3)  # the request is in agentd's stdin on the peer
            with link_cut(peer):
                thaw.touch()
                # The first start made the unit; its answer is lost.
                await program.has_started(why=": the start had not reached agentd before the cut")
                await unreachable(host)
                assert not starting.done()
            result = await starting
            assert (result.run_id, result.adopted) == (program.run_id, True)
            assert await units_of(peer, program.run_id) == [result.unit]
            program.open()
            await Watch(host, program.run_id).ended(program)

    asyncio.run(main())


def test_a_changed_host_key_keeps_the_host_unreachable_and_its_runs_going(peer: SandboxPeer,
                                                                          tmp_path: Path) -> None:
    async def main() -> None:
        async with asyncio.timeout(WITHIN), remote(peer) as host:
            program, watch = await running(host, Program(tmp_path, code=8))
            with changed_host_key(peer, tmp_path / "keys") as new_known_hosts:
                # sshd's restart spares the session: end it, so that the next one meets the new key.
                await peer_run(peer, ["pkill", "-KILL", "-f", "[a]gentd serve"], new_known_hosts)
                await unreachable(host)
                program.open()
                async with asyncio.timeout(10):
                    while "host key" not in host.problem:
                        await asyncio.sleep(0.1)
                assert not host.reachable
                assert host.problem.startswith(f"host {peer.name}: the SSH host key of {peer.address} has changed")
                assert f"ssh-keygen -R {peer.address} -f {peer.known_hosts}" in host.problem
                await asyncio.sleep(2.0)  # tries again, and is refused again
                assert not host.reachable and "has changed" in host.problem
                assert (tmp_path / f"{program.run_id}.gate").exists()
            await watch.ended(program)  # the old key back: the outcome it could not see, once
            assert host.reachable and host.problem == ""

    asyncio.run(main())


def test_a_run_armed_ahead_starts_on_time_across_a_cut(peer: SandboxPeer, tmp_path: Path) -> None:
    async def main() -> None:
        async with asyncio.timeout(WITHIN), remote(peer) as host:
            program = Program(tmp_path, before=3, after=3, code=9)
            at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
            result = await host.start(program.spec, at=at)
            assert not result.adopted
            watch = Watch(host, program.run_id)
            with link_cut(peer):
                await unreachable(host)
                await program.has_started(within=15)  # on the peer, with no link
                program.open()
                assert datetime.now(UTC) >= at
                await asyncio.sleep(1.0)
            started = await watch.started()
            finished = await watch.ended(program)
            assert started.start_time is not None
            assert at <= started.start_time < at + timedelta(seconds=2), (at, started.start_time)
            assert finished.end_time is not None and finished.end_time > started.start_time

    asyncio.run(main())

