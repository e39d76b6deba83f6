"""Every output line kept, however many runs write at once and however far journald is behind.

journald reads a stream at its own pace and rate-limits each line by the
settings of the unit it came from, which it can read only while the unit is
loaded: a run unloaded before journald had read it all lost its tail (20 runs
of 50,000 lines kept 32,500 or 35,000 each). The host keeps an ended run's
unit until journald has read its streams to their end (systemd/streams.py).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
import subprocess
from datetime import UTC, datetime

from agentd.local.host import LocalHost
from agentd.spec import RunSpec
from agentd.systemd.journal import same_entry
from agentd.systemd.units import unit_name
from tests.integration.conftest import finished, hosted, new_run_id, output


def expected(lines: int) -> bytes:
    return b"".join(b"K-%d\n" % i for i in range(1, lines + 1))


def journal_lines(run_id: str) -> list[bytes]:
    """The run's lines as journalctl itself gives them, by the field systemd adds to each; a copy journald wrote
    of an entry into the next file (journal.same_entry) once: every line here differs, so alike ones are copies."""
    out = subprocess.run(["journalctl", "--no-pager", "--quiet", "-o", "json", "--output-fields=MESSAGE",
                          f"APSIS_RUN_ID={run_id}"], capture_output=True, check=True).stdout
    lines, last = [], ""
    for entry in map(json.loads, out.splitlines()):
        if not same_entry(entry["__CURSOR"], last):
            lines.append(entry["MESSAGE"].encode() + b"\n")
        last = entry["__CURSOR"]
    return lines


def first_difference(got: bytes, want: bytes) -> str:
    got_lines, want_lines = got.splitlines(keepends=True), want.splitlines(keepends=True)
    at = next((i for i, (a, b) in enumerate(zip(got_lines, want_lines, strict=False)) if a != b),
              min(len(got_lines), len(want_lines)))
    return f"line {at + 1}: got {got_lines[at:at + 3]!r}, want {want_lines[at:at + 3]!r}"


async def check_complete(host: LocalHost, run_id: str, lines: int) -> None:
    end = await finished(host, run_id)
    assert (end.result, end.output_lost) == ("success", None)
    want = expected(lines)
    got = await output(host, run_id)
    # By count, by checksum, and so in order; a difference is shown where it starts.
    in_journal = b"".join(journal_lines(run_id))
    assert in_journal.count(b"\n") == lines, first_difference(in_journal, want)
    assert got.count(b"\n") == lines, first_difference(got, want)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(want).hexdigest()
    assert hashlib.sha256(in_journal).hexdigest() == hashlib.sha256(want).hexdigest()


@hosted(timeout=280)
async def test_twenty_runs_of_fifty_thousand_lines_at_once_keep_every_line(host: LocalHost) -> None:
    run_ids = [new_run_id() for _ in range(20)]
    await asyncio.gather(*(host.start(RunSpec(run_id=run_id, shell="seq 1 50000 | sed s/^/K-/", grace_period=120))
                           for run_id in run_ids))
    for run_id in run_ids:
        await check_complete(host, run_id, 50_000)


@hosted(timeout=280)
async def test_a_million_lines_from_one_run_are_all_kept(host: LocalHost) -> None:
    run_id = new_run_id()
    await host.start(RunSpec(run_id=run_id, shell="seq 1 1000000 | sed s/^/K-/", grace_period=120))
    await check_complete(host, run_id, 1_000_000)


@hosted(timeout=60)
async def test_lines_journald_suppressed_are_said_to_be_missing(host: LocalHost) -> None:
    """journald says so itself (a record of its own, "Suppressed N messages from <unit>") once the unit writes
    again after the interval; an apsis unit never has so small a limit, so this one is made by hand."""
    run_id = new_run_id()
    started = datetime.now(UTC)
    assert await host.output_gaps(run_id, started) == ()
    subprocess.run(["systemd-run", "--quiet", f"--unit={unit_name(run_id)}", "-p", "LogRateLimitIntervalSec=1s",
                    "-p", "LogRateLimitBurst=5", "sh", "-c", "seq 1 200; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1; "
                    "echo later; done"], check=True)  # the report comes with a line after the interval
    async with asyncio.timeout(30):
        while not (gaps := await host.output_gaps(run_id, started)):
            await asyncio.sleep(0.5)
    (gap,) = gaps
    assert re.fullmatch(r"journald suppressed \d+ of its lines \(its rate limit\)", gap), gap
    assert int(gap.split()[2]) >= 200 - 5 * 20  # the burst is scaled by free space, at most 20 times
    assert await host.output_gaps(new_run_id(), started) == ()  # another unit's are not this one's
