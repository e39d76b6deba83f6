"""A run's output through the API: stdout and stderr apart or together, byte ranges, and followed live to the
run's end (a run not yet started waited for; a client that goes away leaves no journal reader behind)."""
from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import aiohttp

from apsisd.runs.model import Run
from apsisd.runs.state import State
from tests.integration.apsis_cli import apsis
from tests.integration.daemon import Daemon, finished, soon, with_daemon

SOCKET = "/run/apsis/api.sock"
# What the split job writes: to each stream in turn, each line a moment after the last (journald reads the two
# streams apart: only lines written apart in time keep their order across them), and a last line without \n.
SPLIT = """
program:
  type: shell
  command: "echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo '<3>out2'; sleep 0.3; printf err2 >&2"
  output: {split: true}
"""


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=SOCKET),
                                 timeout=aiohttp.ClientTimeout(total=None))


async def get(path: str, **headers: str) -> tuple[int, bytes, Any]:
    async with session() as client, client.get(f"http://apsis{path}", headers=headers) as response:
        return response.status, await response.read(), response.headers


async def error(path: str, **headers: str) -> tuple[int, str]:
    status, body, _ = await get(path, **headers)
    return status, json.loads(body)["error"]


async def post_json(path: str, body: Any) -> Any:
    async with session() as client, client.post(f"http://apsis{path}", json=body) as response:
        assert response.status in (200, 201), await response.text()
        return await response.json()


async def one_finished(daemon: Daemon, job_id: str) -> Run:
    await post_json("/api/v1/runs", {"job_id": job_id})
    (run,) = await daemon.wait_runs(finished(1), job_id)
    return run


@with_daemon()
async def test_stdout_and_stderr_apart_together_and_refused_for_a_run_that_does_not_split(daemon: Daemon) -> None:
    daemon.job("split", SPLIT)
    daemon.job("plain", "program: \"echo out; echo '<3>err' >&2\"\n")
    await daemon.start()
    split, plain = await one_finished(daemon, "split"), await one_finished(daemon, "plain")
    assert (await get(f"/api/v1/runs/{split.id}/output?stream=stdout"))[:2] == (200, b"out1\n<3>out2\n")
    assert (await get(f"/api/v1/runs/{split.id}/output?stream=stderr"))[:2] == (200, b"err1\nerr2")
    both = b"out1\nerr1\n<3>out2\nerr2"
    assert (await get(f"/api/v1/runs/{split.id}/output?stream=both"))[:2] == (200, both)
    status, body, headers = await get(f"/api/v1/runs/{split.id}/output")
    assert (status, body, headers["Content-Type"], headers["Accept-Ranges"]) == (
        200, both, "application/octet-stream", "bytes")
    # Not split: one stream, in the order written, a line that looks like a priority as written.
    assert (await get(f"/api/v1/runs/{plain.id}/output"))[:2] == (200, b"out\n<3>err\n")
    status, message = await error(f"/api/v1/runs/{plain.id}/output?stream=stdout")
    assert status == 409 and "output: {split: true}" in message
    status, message = await error(f"/api/v1/runs/{plain.id}/output?stream=out")
    assert (status, message) == (400, "stream must be both, stdout, stderr, not 'out'")
    assert (await error("/api/v1/runs/r999999/output"))[0] == 404


@with_daemon()
async def test_byte_ranges(daemon: Daemon) -> None:
    daemon.job("count", 'program: "seq 1 100"\n')  # 292 bytes
    await daemon.start()
    run = await one_finished(daemon, "count")
    path = f"/api/v1/runs/{run.id}/output"
    whole = "".join(f"{i}\n" for i in range(1, 101)).encode()
    assert (await get(path))[:2] == (200, whole)
    status, body, headers = await get(path, Range="bytes=0-9")
    assert (status, body, headers["Content-Range"]) == (206, whole[:10], f"bytes 0-9/{len(whole)}")
    status, body, headers = await get(path, Range="bytes=280-")
    assert (status, body, headers["Content-Range"]) == (206, whole[280:], f"bytes 280-291/{len(whole)}")
    status, body, headers = await get(path, Range="bytes=-4")
    assert (status, body, headers["Content-Range"]) == (206, b"100\n", f"bytes 288-291/{len(whole)}")
    status, body, headers = await get(path, Range="bytes=290-5000")
    assert (status, body, headers["Content-Range"]) == (206, whole[290:], f"bytes 290-291/{len(whole)}")
    status, body, headers = await get(path, Range="bytes=292-")
    assert (status, headers["Content-Range"]) == (416, "bytes */292")
    assert "selects nothing of the output's 292 bytes" in body.decode()
    assert (await error(path, Range="bytes=0-1,5-6"))[0] == 400
    assert (await error(path, Range="lines=1-2"))[0] == 400
    assert (await error(f"{path}?follow=1", Range="bytes=0-9"))[0] == 400  # following: bytes=A- only


async def follow(path: str, chunks: list[bytes], **headers: str) -> int:
    """Follow to the end, each chunk appended as it arrives; the status."""
    async with session() as client, client.get(f"http://apsis{path}", headers=headers) as response:
        async for chunk in response.content.iter_any():
            chunks.append(chunk)
        return response.status


async def wait_for(chunks: list[bytes], data: bytes, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while b"".join(chunks) != data:
            await asyncio.sleep(0.02)


@with_daemon()
async def test_follow_gives_the_output_as_it_is_written_and_ends_with_the_run(daemon: Daemon) -> None:
    # Each line waits for a gate the test opens only once it has received the line before: the chunks must come
    # while the run is still going.
    gates = daemon.root / "gate"
    daemon.job("slow", f"""
        program:
          type: shell
          command: for i in 1 2 3; do echo line $i; while [ ! -e {gates}$i ]; do sleep 0.02; done; done; seq 1 5000
        """)
    await daemon.start()
    (made,) = (await post_json("/api/v1/runs", {"job_id": "slow"}))["runs"]
    chunks: list[bytes] = []
    following = asyncio.create_task(follow(f"/api/v1/runs/{made['run_id']}/output?follow=1", chunks))
    seen = b""
    for i in (1, 2, 3):
        seen += f"line {i}\n".encode()
        await wait_for(chunks, seen)
        assert not following.done()
        Path(f"{gates}{i}").touch()
    assert await asyncio.wait_for(following, 30) == 200
    assert b"".join(chunks) == seen + "".join(f"{i}\n" for i in range(1, 5001)).encode()
    (run,) = await daemon.wait_runs(finished(1), "slow")
    assert run.state is State.SUCCESS
    # Resumed from a byte on (a dropped connection): the rest, then the end.
    rest: list[bytes] = []
    assert await follow(f"/api/v1/runs/{run.id}/output?follow=1", rest, Range="bytes=14-") == 200
    assert b"".join(rest) == b"".join(chunks)[14:]


@with_daemon()
async def test_follow_waits_for_a_run_not_yet_started(daemon: Daemon) -> None:
    daemon.job("later", f"""
        schedule: {{type: explicit, times: ["{soon(5)}"]}}
        program: {{type: exec, argv: [/bin/sh, -c, "echo started; echo warn >&2"], output: {{split: true}}}}
        """)
    daemon.job("never", 'schedule: {type: interval, interval: 1h}\nprogram: "echo never"\n')
    await daemon.start()
    (run,) = await daemon.wait_runs(lambda runs: bool(runs), "later", "a scheduled run")
    assert run.state is State.SCHEDULED
    out: list[bytes] = []
    err: list[bytes] = []
    both = [follow(f"/api/v1/runs/{run.id}/output?follow=1&stream=stdout", out),
            follow(f"/api/v1/runs/{run.id}/output?follow=1&stream=stderr", err)]
    assert await asyncio.gather(*both) == [200, 200]
    assert (b"".join(out), b"".join(err)) == (b"started\n", b"warn\n")
    # A run that ends without starting (skipped): the follow ends with nothing; its output is empty.
    (never, *_) = await daemon.wait_runs(lambda runs: bool(runs), "never", "a scheduled run")
    nothing: list[bytes] = []
    following = asyncio.create_task(follow(f"/api/v1/runs/{never.id}/output?follow=1", nothing))
    async with session() as client, client.post(f"http://apsis/api/v1/runs/{never.id}/skip") as response:
        assert response.status == 200
    assert (await asyncio.wait_for(following, 20), nothing) == (200, [])
    assert (await get(f"/api/v1/runs/{never.id}/output"))[:2] == (200, b"")


def followers(pid: int) -> list[str]:
    """apsisd's journalctl processes that follow the journal."""
    found = subprocess.run(["pgrep", "-a", "-P", str(pid), "journalctl"], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "--follow" in line]


@with_daemon()
async def test_a_client_that_goes_away_leaves_no_journal_reader_and_a_stop_ends_every_follow(
        daemon: Daemon) -> None:
    daemon.job("long", 'program: "echo begun; exec sleep 300"\n')
    daemon.job("gone", 'schedule: {type: interval, interval: 1h}\nprogram: "true"\n')
    await daemon.start(*daemon.config("[reload]\nwatch = false\n"))
    assert daemon.process is not None
    pid = daemon.process.pid
    (made,) = (await post_json("/api/v1/runs", {"job_id": "long"}))["runs"]
    path = f"/api/v1/runs/{made['run_id']}/output?follow=1"
    async with session() as client, client.get(f"http://apsis{path}") as response:
        assert await response.content.readuntil(b"\n") == b"begun\n"
        assert len(followers(pid)) == 1
    # The client has closed its connection: apsisd's handler ends at once (the run writes nothing more), and its
    # journalctl with it.
    async with asyncio.timeout(5):
        while followers(pid):
            await asyncio.sleep(0.05)
    # A run withdrawn while followed (its job removed by a reload): 404 then.
    (gone, *_) = await daemon.wait_runs(lambda runs: bool(runs), "gone", "a scheduled run")
    withdrawn = asyncio.create_task(error(f"/api/v1/runs/{gone.id}/output?follow=1"))
    await daemon.wait_log(f"run {gone.id}: its output is followed once it starts")
    daemon.remove_job("gone")
    async with session() as client, client.post("http://apsis/api/v1/reload") as response:
        assert response.status == 200
    status, message = await asyncio.wait_for(withdrawn, 20)
    assert status == 404 and "withdrawn" in message
    # apsisd stops at once though a client follows a run that goes on: the answer is cut short.
    cut: list[bytes] = []
    following = asyncio.create_task(follow(path, cut))
    await wait_for(cut, b"begun\n")
    assert await daemon.stop() == 0
    assert isinstance((await asyncio.gather(following, return_exceptions=True))[0], aiohttp.ClientPayloadError)


def peak_memory(pid: int) -> int:
    """The most memory the process has held (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


@with_daemon(timeout=240)
async def test_a_large_output_is_sent_as_it_is_read_whole_or_a_range(daemon: Daemon) -> None:
    # 64 MiB in 2,048 lines of 32 KiB (under journald's LineMax), each ending in its number: every byte known.
    daemon.job("large", "program: \"seq -f '%032767g' 1 2048\"\n")
    await daemon.start()
    assert daemon.process is not None
    run = await one_finished(daemon, "large")
    assert run.state is State.SUCCESS
    whole = b"".join(b"%032767d\n" % i for i in range(1, 2049))
    path = f"/api/v1/runs/{run.id}/output"
    before = peak_memory(daemon.process.pid)
    status, body, headers = await get(path, Range="bytes=0-9")
    assert (status, body, headers["Content-Range"]) == (206, whole[:10], f"bytes 0-9/{len(whole)}")
    # Measured and sent without holding the output: the peak grew by far less than its 64 MiB (it held it twice).
    assert peak_memory(daemon.process.pid) - before < 16 << 20
    middle = 40_000_000
    for header, start, stop in ((f"bytes={middle}-{middle + 99_999}", middle, middle + 100_000),
                                ("bytes=-70000", len(whole) - 70_000, len(whole)),
                                (f"bytes={len(whole) - 5}-", len(whole) - 5, len(whole)),
                                ("bytes=32766-32769", 32_766, 32_770)):
        status, body, headers = await get(path, Range=header)
        assert (status, headers["Content-Range"], headers["Content-Length"]) == (
            206, f"bytes {start}-{stop - 1}/{len(whole)}", str(stop - start)), header
        assert body == whole[start:stop], header
    status, body, headers = await get(path)
    assert (status, len(body), body == whole, headers.get("Content-Length")) == (200, len(whole), True, None)
    assert peak_memory(daemon.process.pid) - before < 24 << 20


@with_daemon()
async def test_output_the_journal_rotated_away_is_said_to_be_incomplete(daemon: Daemon) -> None:
    """Not an empty output, as if the program had been silent: `apsis output` says when the journal lost it."""
    daemon.job("talk", 'program: "echo said"\n')
    await daemon.start()
    run = await one_finished(daemon, "talk")
    before = apsis("output", run.id)
    assert (before.code, before.out, before.err) == (0, "said\n", "")
    await asyncio.sleep(1.1)  # the run's records older than the vacuum's limit
    subprocess.run(["journalctl", "--rotate"], check=True, capture_output=True)
    subprocess.run(["journalctl", "--vacuum-time=1s"], check=True, capture_output=True)
    after = apsis("output", run.id)
    assert (after.code, after.out) == (0, "")
    assert "this output is incomplete: the journal has rotated away what was written before" in after.err
    assert f"this run started at {run.times[State.RUNNING].isoformat()}" in after.err
    _status, _body, headers = await get(f"/api/v1/runs/{run.id}/output")
    assert "rotated away" in headers["Apsis-Output-Incomplete"]
