"""A run's output from the journal: complete, in order, bytes as written, live and resumable."""
from __future__ import annotations

import asyncio
import time

from agentd.local.host import LocalHost
from agentd.spec import RunSpec, Stream
from tests.integration.conftest import finished, hosted, new_run_id, output


@hosted(timeout=180)
async def test_100000_lines_all_present_and_in_order(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, argv=("/usr/bin/seq", "1", "100000")))
    assert (await finished(host, run_id)).succeeded
    expected = "".join(f"{i}\n" for i in range(1, 100_001)).encode()
    assert await output(host, run_id) == expected


@hosted()
async def test_bytes_that_are_not_utf8_are_preserved(host: LocalHost) -> None:
    run_id = new_run_id()
    written = b"caf\xe9\n\xff\xfe binary \x01\x7f\n\xc3\xa9 is fine\nno newline at the end"
    printf = "".join(f"\\{b:03o}" for b in written)
    await host.start(RunSpec(run_id=run_id, shell=f"printf '{printf}'"))
    await finished(host, run_id)
    assert await output(host, run_id) == written


@hosted()
async def test_follow_gives_lines_as_they_are_written_and_ends_with_the_run(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, shell="for i in 1 2 3; do echo line $i; sleep 0.5; done; seq 1 20000"))
    began = time.monotonic()
    arrivals = []
    data = bytearray()
    async for record in host.output(run_id, follow=True):
        arrivals.append(time.monotonic() - began)
        data += record.data
    tail = "".join(f"{i}\n" for i in range(1, 20_001))
    assert data.decode() == "line 1\nline 2\nline 3\n" + tail
    assert arrivals[0] < 1.0, "the first line must arrive while the run is still going"
    end = await finished(host, run_id)
    assert end.succeeded
    assert not end.recovered, "following output must not use up the live outcome"


@hosted()
async def test_a_split_run_keeps_stdout_and_stderr_apart_and_its_own_exit_code(host: LocalHost) -> None:
    run_id = new_run_id()
    # Pauses between the streams: journald reads each stream on its own, so only lines written apart in time
    # keep their order across the two.
    script = "echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo '<3>out2'; sleep 0.3; printf 'err2' >&2; exit 7"
    await host.start(RunSpec(run_id=run_id, shell=script, split_output=True))
    end = await finished(host, run_id)
    assert (end.result, end.exit_code) == ("exit-code", 7)
    records = [r async for r in host.output(run_id)]
    assert [(r.data, r.priority) for r in records] == [
        (b"out1\n", 6), (b"err1\n", 3), (b"<3>out2\n", 6), (b"err2", 3)]
    assert len({r.pid for r in records}) == 1  # systemd-cat exec()s the program: its pid is the main pid
    assert await output(host, run_id, stream=Stream.STDOUT) == b"out1\n<3>out2\n"
    assert await output(host, run_id, stream=Stream.STDERR) == b"err1\nerr2"
    async with asyncio.timeout(20):
        followed = [r.data async for r in host.output(run_id, follow=True, stream=Stream.STDERR)]
    assert followed == [b"err1\n", b"err2"]


@hosted()
async def test_a_line_that_starts_like_a_priority_is_output_as_written(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, shell="echo '<3>not an error'; echo '<7>x' >&2"))
    await finished(host, run_id)
    records = [r async for r in host.output(run_id)]
    assert [(r.data, r.priority) for r in records] == [(b"<3>not an error\n", 6), (b"<7>x\n", 6)]


@hosted()
async def test_the_output_of_a_split_run_that_ends_at_once_is_all_found(host: LocalHost) -> None:
    # journald knows systemd-cat's unit only from a writer still alive: these lines are often read after, and
    # must be found all the same (by the run's own identifier).
    run_ids = [new_run_id() for _ in range(20)]
    for run_id in run_ids:
        await host.start(RunSpec(run_id=run_id, job_id="quick", shell="echo out; echo err >&2", split_output=True))
    for run_id in run_ids:
        await finished(host, run_id)
    outputs = [(await output(host, run_id, stream=Stream.STDOUT), await output(host, run_id, stream=Stream.STDERR))
               for run_id in run_ids]
    assert outputs == [(b"out\n", b"err\n")] * len(run_ids)
