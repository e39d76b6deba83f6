"""Hostile args through real units: each reaches the program as one value, and nothing else runs.

Through a real apsisd and its API (job files, runs created with args,
output read back from the journal), and through LocalHost for what systemd
itself does with `$VAR` and `%` specifiers, started now and armed ahead.
A breakout would create a file in a folder of the test's own; none may
appear.
"""
from __future__ import annotations

import base64
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentd.local.host import LocalHost
from agentd.types import JobId
from apsisd.jobs.program import bind, parse_program
from apsisd.jobs.spec import program_spec
from tests.integration.api import post
from tests.integration.conftest import finished, hosted, new_run_id, output
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.test_daemon_output import get

MARK = "PWNED"
PAYLOADS = [f"$(touch {MARK})", f"`touch {MARK}`", f"'; touch {MARK}; '", f'"; touch {MARK}; "', f"; touch {MARK}",
            f"\ntouch {MARK}\n", f"| touch {MARK}", f"& touch {MARK} &", f"${{x:-$(touch {MARK})}}",
            f"$((1))$(touch {MARK})", f"\\'$(touch {MARK})\\'", f'\\"`touch {MARK}`\\"', f"a[$(touch {MARK})]",
            f"*; touch {MARK} #", "", " ", "-c", "--", "-e"]
# What systemd would expand itself in an ExecStart= or Environment= it read from a file.
SYSTEMD_SPECIALS = ["%n %% %h %i %%n %", "$HOME ${PATH} $$ $1 ${X:-y} \\$HOME", "a\nb\tc\\n\\\\'\"", "%%%%", "$"]
METACHARACTERS = " \t'\"`$\\;|&<>(){}[]*?~!#%=^,-+.:/@0aZé"
_random = random.Random(11)
CORPUS = [*PAYLOADS, *SYSTEMD_SPECIALS,
          *("".join(_random.choices(METACHARACTERS, k=_random.randint(1, 24))) for _ in range(10))]
# Each value on a line of its own, as v:<base64>, all written by one process (cat): journald ends a line another
# process finishes where the writer changes, not at its newline (and the output keeps no empty line).
SHOW = "for v in {values}; do printf v:; printf '%s' \"$v\" | base64 -w0; echo; done | cat"
SHOW_ARGV = ["/usr/bin/python3", "-c", "import base64, os, sys\n"
             "for arg in sys.argv[1:]: print('v:' + base64.b64encode(os.fsencode(arg)).decode())"]  # no shell here
JOBS = {
    "shell": (["a", "b"], {"type": "shell", "command": SHOW.format(values=(
        '{{ a }} "{{ a }}" x{{ a }}y "got {{ a }}!" {{ a }}{{ b }} "{{ a | upper }}" "$(printf \'%s.\' {{ b }})"'))}),
    "sh-c": (["a", "b"], {"type": "exec", "argv": [
        "/usr/bin/env", "sh", "-c", SHOW.format(values='{{ a }} "[{{ b }}]" "$0" "$1"'), "{{ a }}", "{{ b }}"]}),
    "exec": (["a"], {"type": "exec", "argv": [*SHOW_ARGV, "{{ a }}", "x{{ a }}"]}),
}


def shown(text: bytes) -> list[str]:
    return [base64.b64decode(line.removeprefix("v:")).decode() for line in text.decode().splitlines()]


def expected(job_id: str, a: str, b: str) -> list[str]:
    """What the job shows for args a and b."""
    if job_id == "shell":
        return [a, a, f"x{a}y", f"got {a}!", a + b, a.upper(), b + "."]
    if job_id == "sh-c":
        return [a, f"[{b}]", a, b]
    return [a, f"x{a}"]


@with_daemon(timeout=300)
async def test_hostile_args_through_the_api_reach_each_program_as_one_value_and_run_nothing(
        daemon: Daemon) -> None:
    work = daemon.root / "work"  # each program's folder: where the payloads would create MARK
    work.mkdir()
    for job_id, (params, program) in JOBS.items():
        daemon.job(job_id, json.dumps({"params": params, "program": {**program, "cwd": str(work)}}))
    await daemon.start()
    created = []
    for a, b in zip(CORPUS, reversed(CORPUS), strict=True):
        for job_id, (params, _) in JOBS.items():
            args = {"a": a, "b": b} if "b" in params else {"a": a}
            status, run = await post("/api/v1/runs", {"job_id": job_id, "args": args})
            assert status == 201, run
            created.append((run["runs"][0]["run_id"], job_id, a, b))
    runs = await daemon.wait_runs(lambda runs: len(runs) == len(created) and all(run.finished for run in runs),
                                  what="every run finished", timeout=240)
    assert {run.id: run.state.value for run in runs} == {run_id: "success" for run_id, *_ in created}
    for run_id, job_id, a, b in created:
        status, data, _ = await get(f"/api/v1/runs/{run_id}/output")
        assert status == 200
        assert shown(data) == expected(job_id, a, b), (job_id, a, b)
    assert list(work.iterdir()) == []


@hosted(timeout=120)
async def test_systemd_expands_no_dollar_and_no_specifier_in_args_started_now_or_armed(
        host: LocalHost, tmp_path: Path) -> None:
    for value in SYSTEMD_SPECIALS:
        for program in ([*SHOW_ARGV, "{{ a }}", "x{{ a }}"], SHOW.format(values='{{ a }} "x{{ a }}"')):
            for at in (None, datetime.now(UTC) + timedelta(seconds=0.5)):
                run_id = new_run_id()
                spec = program_spec(bind(parse_program(program), {"a": value, "run_id": run_id}, {}), run_id,
                                    JobId("t"))
                await host.start(replace(spec, cwd=str(tmp_path)), at=at)
                assert (await finished(host, run_id)).succeeded
                assert shown(await output(host, run_id)) == [value, f"x{value}"], (program, at)
    assert list(tmp_path.iterdir()) == []
