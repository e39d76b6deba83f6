"""A run's output from the journal: complete, in order, bytes as written, live and resumable."""
from __future__ import annotations

import asyncio
import time

import pytest

from apsisd.errors import HostError
from apsisd.hosts.local import LocalHost
from apsisd.hosts.spec import RunSpec
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
async def test_output_resumes_after_a_cursor_without_gaps_or_repeats(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, argv=("/usr/bin/seq", "1", "50")))
    await finished(host, run_id)
    records = [r async for r in host.output(run_id)]
    assert len(records) == 50
    rest = [r async for r in host.output(run_id, after_cursor=records[19].cursor)]
    assert [r.data for r in rest] == [r.data for r in records[20:]]
    # and following from a cursor of a finished run ends by itself
    async with asyncio.timeout(20):
        followed = [r async for r in host.output(run_id, follow=True, after_cursor=records[44].cursor)]
    assert b"".join(r.data for r in followed) == b"46\n47\n48\n49\n50\n"


@hosted()
async def test_a_bad_cursor_is_an_error_not_empty_output(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, argv=("/bin/echo", "hi")))
    await finished(host, run_id)
    with pytest.raises(HostError, match="cursor"):
        await output(host, run_id, after_cursor="not-a-cursor")
