"""Secrets stay secret: a caller who may only read (the socket's others, a read token) is never shown a program's
env values, a webhook's URL userinfo and query, or a header's value, on any route that answers it; an operator
sees env values and URLs, never header values; a webhook's failure leaves no URL secret in a run's log or
apsisd's."""
from __future__ import annotations

import asyncio
import json
import subprocess

import aiohttp

from apsisd.rights import Right
from apsisd.runs.state import State
from apsisd.tokens_file import new_token
from tests.integration.api import SOCKET, Stream, get, post
from tests.integration.daemon import Daemon, with_daemon
from tests.integration.test_api_access import free_port, routes, tokens_file

OPS, VIEWER = new_token(), new_token()
ENV_SECRET, USER_SECRET, QUERY_SECRET, HEADER_SECRET = "pa55-env-9f1", "pa55-user-9f2", "t0k3n-query-9f3", \
    "h3ad3r-9f4"
HOOK = f"http://bot:{USER_SECRET}@127.0.0.1:99999/hooks/apsis?token={QUERY_SECRET}"  # a port aiohttp refuses
JOB = f"""
    program:
      type: shell
      command: "true"
      env: {{DB_PASSWORD: {ENV_SECRET}}}
    action:
      type: webhook
      url: "{HOOK}"
      headers: {{X-Token: {HEADER_SECRET}}}
      retries: 0
    """
FOR_READERS = (ENV_SECRET, USER_SECRET, QUERY_SECRET, HEADER_SECRET)

# The system's python, stdlib only, as nobody: each path of argv[2] on the socket argv[1], its whole answer (the
# live stream's up to the end of its snapshot).
CLIENT = """
import json, socket, sys
answers = []
for path in json.loads(sys.argv[2]):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(20)
        sock.connect(sys.argv[1])
        sock.sendall(f"GET {path} HTTP/1.0\\r\\nHost: apsis\\r\\n\\r\\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"event: snapshot" in data and data.endswith(b"\\n\\n"):
                break
        answers.append(data.decode(errors="replace"))
print(json.dumps(answers))
"""


def as_nobody(paths: list[str]) -> list[str]:
    proc = subprocess.run(["/usr/bin/python3", "-c", CLIENT, SOCKET, json.dumps(paths)], user="nobody",
                          group="nogroup", capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout))


async def over_tcp(port: int, token: str, paths: list[str]) -> list[str]:
    """Each path's whole answer with the token (the live stream's up to the end of its snapshot)."""
    answers = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for path in paths:
            async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                assert response.status < 500, (path, response.status)
                text = ""
                async for line in response.content:
                    text += line.decode()
                    if "event: snapshot" in text and text.endswith("\n\n"):
                        break
                answers.append(f"{response.status} {text}")
    return answers


async def webhook_notes(run_id: str) -> list[str]:
    """The webhook's lines in the run's log, once there are some (they come after the run's end)."""
    while True:
        status, log = await get(f"/api/v1/runs/{run_id}/log")
        assert status == 200, log
        notes = [entry["message"] for entry in log["log"] if "webhook" in entry["message"]]
        if notes:
            return notes
        await asyncio.sleep(0.05)


def every_reading_path(run_id: str) -> list[str]:
    """Every GET route of the API, for the job and run that hold the secrets."""
    paths = [pattern.replace("{run_id}", run_id).replace("{job_id}", "secret")
             for method, pattern in routes() if method == "GET"]
    assert all("{" not in path for path in paths), paths
    return paths


@with_daemon()
async def test_readers_never_see_secrets_and_operators_see_all_but_header_values(daemon: Daemon) -> None:
    tokens = tokens_file(daemon.root, ("ops", Right.OPERATE, OPS), ("viewer", Right.READ, VIEWER))
    port = free_port()
    daemon.job("secret", JOB)
    await daemon.start(*daemon.config(f"""
        [api]
        others = "read"
        listen = ["unix:{SOCKET}", "tcp:127.0.0.1:{port}"]
        tokens = "{tokens}"
        """))
    status, made = await post("/api/v1/runs", {"job_id": "secret"})
    assert status == 201, made
    run_id = made["runs"][0]["run_id"]
    await daemon.wait_runs(lambda runs: bool(runs) and runs[0].state is State.SUCCESS, "secret")
    assert await webhook_notes(run_id) == [
        "webhook http://127.0.0.1:99999/... failed after 1 attempt: OSError: InvalidURL: "
        "http://127.0.0.1:99999/..."]

    paths = every_reading_path(run_id)
    for who, answers in (("nobody on the socket", as_nobody(paths)),
                         ("a read token", await over_tcp(port, VIEWER, paths))):
        assert len(answers) == len(paths)
        for path, answer in zip(paths, answers, strict=True):
            for secret in FOR_READERS:
                assert secret not in answer, (who, path, secret, answer[:2000])
        jobs = next(answer for path, answer in zip(paths, answers, strict=True) if path == "/api/v1/jobs")
        assert '"DB_PASSWORD": "(hidden)"' in jobs and '"url": "http://127.0.0.1:99999/..."' in jobs, jobs

    status, job = await get("/api/v1/jobs/secret")  # root: an operator
    assert job["job"]["program"]["env"] == {"DB_PASSWORD": ENV_SECRET}
    assert job["job"]["actions"][0]["url"] == HOOK
    assert job["job"]["actions"][0]["headers"] == {"X-Token": "(hidden)"}
    (operated,) = [answer for path, answer in zip(paths, await over_tcp(port, OPS, paths), strict=True)
                   if path == "/api/v1/events"]
    assert ENV_SECRET in operated and QUERY_SECRET in operated and HEADER_SECRET not in operated
    for secret in FOR_READERS:
        assert secret not in daemon.log(), secret


@with_daemon()
async def test_a_reader_following_the_stream_is_sent_changed_jobs_without_their_secrets(daemon: Daemon) -> None:
    tokens = tokens_file(daemon.root, ("viewer", Right.READ, VIEWER))
    port = free_port()
    daemon.job("secret", JOB)
    await daemon.start(*daemon.config(f"""
        [api]
        listen = ["unix:{SOCKET}", "tcp:127.0.0.1:{port}"]
        tokens = "{tokens}"
        """))
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {VIEWER}"}) as session, \
            session.get(f"http://127.0.0.1:{port}/api/v1/events") as response:
        stream = Stream(response)
        await stream.until("snapshot")
        daemon.job("secret", JOB.replace("command: \"true\"", "command: \"exit 0\""))
        daemon.job("another", JOB)
        status, reloaded = await post("/api/v1/reload")
        assert (status, reloaded["added"], reloaded["changed"]) == (200, ["another"], ["secret"]), reloaded
        (*_, jobs) = await stream.until("jobs")
    assert [job["job_id"] for job in jobs.data["added"] + jobs.data["changed"]] == ["another", "secret"]
    for secret in FOR_READERS:
        assert secret not in json.dumps(jobs.data), secret
    assert jobs.data["changed"][0]["program"]["env"] == {"DB_PASSWORD": "(hidden)"}
