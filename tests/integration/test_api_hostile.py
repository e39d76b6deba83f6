"""Requests made to break apsisd's reading of them, against a real apsisd: each is refused with a 4xx that says
what is wrong, none answers 500, and apsisd is still up after them all.

Each class here answered 500 once: an instant past year 9999 or before year 1 in UTC, a Range of 4,301 digits,
a `since` of '²' (a digit to str.isdigit(), not to int()), a body nested 100,000 deep, numbers of 400 digits in
an ad hoc program's fields. The OpenAPI fuzzing (test_api_openapi.py) generates the same classes at random.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp

from apsisd.runs.state import State
from tests.integration.api import get, post, session
from tests.integration.daemon import Daemon, finished, with_daemon

JSON = {"Content-Type": "application/json"}
HUGE = "9" * 400  # past float's range
TIMEOUT = aiohttp.ClientTimeout(total=10)
HUGER = "9" * 4301  # past int()'s: Python refuses to read more than 4,300 digits


def adhoc(**fields: Any) -> bytes:
    return json.dumps({"program": {"type": "exec", "argv": ["/bin/true"], **fields}}).encode()


def adhoc_raw(field: str) -> bytes:
    """An ad hoc program with `field` written as raw JSON (a number json.dumps would not write)."""
    return b'{"program": {"type": "exec", "argv": ["/bin/true"], ' + field.encode() + b"}}"


# (method, path, headers, body, status, what the error must say); {done} and {running} name runs.
CASES: list[tuple[str, str, dict[str, str], bytes | None, int, str]] = [
    ("POST", "/api/v1/runs", JSON, b'{"job_id": "quick", "at": "0001-01-01T00:00:00+01:00"}', 400,
     "at: '0001-01-01T00:00:00+01:00' is outside the years 1 to 9999 in UTC"),
    ("POST", "/api/v1/runs", JSON, b'{"job_id": "quick", "at": "9999-12-31T23:59:00-01:00"}', 400,
     "at: '9999-12-31T23:59:00-01:00' is outside the years 1 to 9999 in UTC"),
    ("GET", "/api/v1/runs?since=9999-12-31T23:59:00-01:00", {}, None, 400, "since must be an ISO 8601 time"),
    ("GET", "/api/v1/runs?until=0001-01-01T00:00:00%2B01:00", {}, None, 400, "until must be an ISO 8601 time"),
    ("GET", "/api/v1/events?since=%C2%B2", {}, None, 400, "since (or Last-Event-ID) must be the number of a change"),
    ("GET", "/api/v1/events", {"Last-Event-ID": HUGER}, None, 400, "since (or Last-Event-ID) must be the number"),
    ("GET", "/api/v1/events?recent=%D9%A3", {}, None, 400, "recent must be a whole number from 0 to 10,000"),
    ("GET", "/api/v1/runs?limit=" + HUGER, {}, None, 400, "limit must be a whole number from 1 to 10,000"),
    ("GET", "/api/v1/check?late=1_0", {}, None, 400, "late must be a whole number from 0 to 86,400"),
    ("POST", "/api/v1/runs", JSON, b"[" * 100_000, 400, "nested more than 32 deep"),
    ("POST", "/api/v1/runs", JSON, b'{"job_id": "quick", "count": ' + HUGER.encode() + b"}", 400,
     "a number of 4,301 digits is too large"),
    ("POST", "/api/v1/runs", JSON, b'{"job_id": "quick", "count": NaN}', 400, "NaN is not a JSON number"),
    ("POST", "/api/v1/runs", JSON, b'{"job_id": "quick", "count": 1e400}', 400, "the number 1e400 is too large"),
    ("POST", "/api/v1/runs", JSON, b'{"job_id": "\\ud800"}', 400, "half of a UTF-16 pair"),
    ("POST", "/api/v1/runs", JSON, b'{"job_id": "\xff"}', 400, "is not UTF-8"),
    ("POST", "/api/v1/runs", JSON, adhoc(limits={"memory": HUGE}), 400,
     "program.limits.memory: "),
    ("POST", "/api/v1/runs", JSON, adhoc_raw(f'"limits": {{"memory": {HUGE}}}'), 400, "program.limits.memory:"),
    ("POST", "/api/v1/runs", JSON, adhoc_raw(f'"limits": {{"cpu": {HUGE}}}'), 400, "program.limits.cpu:"),
    ("POST", "/api/v1/runs", JSON, adhoc_raw(f'"limits": {{"tasks": {HUGE}}}'), 400, "program.limits.tasks:"),
    ("POST", "/api/v1/runs", JSON, adhoc_raw(f'"limits": {{"nice": {HUGE}}}'), 400, "program.limits.nice:"),
    ("POST", "/api/v1/runs", JSON, adhoc_raw(f'"timeout": {HUGE}'), 400, "program.timeout: "),
    ("POST", "/api/v1/runs", JSON, adhoc(timeout=HUGE + "s"), 400, "program.timeout: "),
    ("POST", "/api/v1/runs", JSON, adhoc_raw(f'"stop": {{"grace_period": {HUGE}}}'), 400,
     "program.stop.grace_period: "),
    ("POST", "/api/v1/runs", JSON, adhoc_raw(f'"stop": {{"signal": {HUGE}}}'), 400, "program.stop.signal:"),
    ("GET", "/api/v1/runs/{done}/output", {"Range": "bytes=" + HUGER + "-"}, None, 416, "selects nothing"),
    ("GET", "/api/v1/runs/{done}/output", {"Range": "bytes=-" + HUGER}, None, 206, ""),
    ("GET", "/api/v1/runs/{done}/output", {"Range": "bytes=0-" + HUGER}, None, 206, ""),
    ("GET", "/api/v1/runs/{done}/output", {"Range": "bytes=%C2%B2-"}, None, 400, "Range must be"),
    ("POST", "/api/v1/runs/{running}/signal?signal=" + HUGER, {}, None, 400, "unknown signal"),
    ("POST", "/api/v1/runs/{running}/signal?signal=%C2%B2", {}, None, 400, "unknown signal"),
    ("POST", "/api/v1/health", {}, None, 405, '{"error": "Method Not Allowed"}'),  # was a 500, made anew
    ("DELETE", "/api/v1/runs/{done}", {}, None, 405, '{"error": "Method Not Allowed"}'),
    ("GET", "/api/v1/nowhere", {}, None, 404, '{"error": "Not Found"}'),
]


@with_daemon(timeout=120)
async def test_no_hostile_request_is_a_server_error(daemon: Daemon) -> None:
    daemon.job("quick", 'program: "echo some output"\n')
    daemon.job("long", 'program: "sleep 600"\n')
    await daemon.start()
    done = (await post("/api/v1/runs", {"job_id": "quick"}))[1]["runs"][0]["run_id"]
    await daemon.wait_runs(finished(1), "quick")
    running = (await post("/api/v1/runs", {"job_id": "long"}))[1]["runs"][0]["run_id"]
    await daemon.wait_runs(lambda runs: runs[0].state is State.RUNNING, "long", "running")
    wrong = []
    async with session() as client:
        for method, path, headers, body, status, says in CASES:
            url = "http://apsis" + path.format(done=done, running=running)
            try:
                async with client.request(method, url, headers=headers, data=body, timeout=TIMEOUT) as response:
                    answer = f"{response.status} {(await response.text())[:300]}"
            except TimeoutError:
                answer = "no answer"  # an events stream opened by a 'recent' of '٣' (three, to int())
            if answer != f"{status} {says}" and not (answer.startswith(f"{status} ") and says in answer):
                wrong.append(f"{method} {path[:80]} {str(headers)[:40]} {(body or b'')[:60]!r}: {answer}")
    assert not wrong, "\n".join(wrong)
    assert "action=api_failed" not in daemon.log()
    assert (await get("/api/v1/health"))[0] == 200


FORGED = "\n2026-12-06 10:00:00.000 INFO run r1 success: forged action=run_success\n\x1b[2J"


@with_daemon(timeout=60)
async def test_no_caller_text_makes_a_log_line_of_its_own(daemon: Daemon) -> None:
    daemon.job("greet", "params: [who]\nprogram: {type: exec, argv: [/bin/false, '{{ who }}']}\n")
    await daemon.start()
    hostile = quote(FORGED, safe="")
    statuses = []
    async with session() as client:
        for method, path, headers in [
            ("GET", f"/api/v1/runs/r1{hostile}/output", {"Range": "bytes=" + HUGER + "-"}),  # was a 500, logged
            ("GET", f"/api/v1/jobs/{hostile}", {}),
            ("POST", f"/api/v1/runs/r1{hostile}/start", {}),
        ]:
            async with client.request(method, "http://apsis" + path, headers=headers, timeout=TIMEOUT) as response:
                statuses.append(response.status)
    statuses.append((await post("/api/v1/runs", {"job_id": "greet", "args": {"who": FORGED}}))[0])
    statuses.append((await post("/api/v1/runs", {"program": {"type": "exec", "argv": ["/bin/true"],
                                                             "cwd": "/x" + FORGED}, "name": "x\r\x1b[2J"}))[0])
    await daemon.wait_runs(finished(2))
    lines = daemon.log().splitlines()
    assert not [line for line in lines if line.startswith(FORGED.strip()[:23]) or "\x1b" in line]
    assert statuses == [404, 404, 404, 201, 201]
