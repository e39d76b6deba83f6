"""The API's read side on apsisd's Unix socket: health, runs, one run, jobs; JSON errors; callers refused by their
peer credentials."""
from __future__ import annotations

import subprocess

from apsisd.runs.state import State
from tests.integration.api import SOCKET, get, post, session
from tests.integration.daemon import Daemon, finished, with_daemon


@with_daemon()
async def test_health_runs_and_jobs_as_json(daemon: Daemon) -> None:
    daemon.job("hello", 'program: "exit 2"\n')
    await daemon.start()
    await post("/api/v1/runs", {"job_id": "hello"})
    (run,) = await daemon.wait_runs(finished(1), "hello")
    status, health = await get("/api/v1/health")
    assert (status, health["status"], health["jobs"], health["runs_in_flight"]) == (200, "ok", 1, 0)
    status, body = await get("/api/v1/runs?job=hello&state=failure")
    assert status == 200 and [r["run_id"] for r in body["runs"]] == [run.id]
    status, one = await get(f"/api/v1/runs/{run.id}")
    assert (status, one["state"], one["exit_code"], one["job_id"]) == (200, str(State.FAILURE), 2, "hello")
    assert set(one["times"]) >= {"schedule", "scheduled", "starting", "running", "failure"}
    assert await get("/api/v1/runs/r999999") == (404, {"error": "no run r999999"})
    status, error = await get("/api/v1/runs?state=sleeping")
    assert status == 400 and error["error"].startswith("state must be one of")
    assert (await get("/api/v1/nowhere"))[0] == 404
    status, jobs = await get("/api/v1/jobs")
    assert status == 200 and [job["job_id"] for job in jobs["jobs"]] == ["hello"]


# The system's python (nobody may not read the checkout's virtualenv), stdlib only.
CLIENT = f"""
import socket
sock = socket.socket(socket.AF_UNIX)
sock.connect({SOCKET!r})
sock.sendall(b"GET /api/v1/health HTTP/1.0\\r\\nHost: apsis\\r\\n\\r\\n")
data = b""
while chunk := sock.recv(65536):
    data += chunk
head, body = data.split(b"\\r\\n\\r\\n", 1)
print(head.split()[1].decode(), body.decode())
"""


@with_daemon()
async def test_a_caller_of_no_allowed_user_or_group_is_refused(daemon: Daemon) -> None:
    await daemon.start()
    proc = subprocess.run(["/usr/bin/python3", "-c", CLIENT], user="nobody", group="nogroup", capture_output=True,
                          text=True, timeout=30, cwd="/")
    # The socket is 0660 for the operators' group: the kernel refuses the connection before apsisd sees it.
    assert proc.returncode != 0 and "PermissionError: [Errno 13] Permission denied" in proc.stderr, proc.stderr
    assert proc.stdout == ""


@with_daemon()
async def test_a_runs_log_and_a_reload_with_and_without_dry_run(daemon: Daemon) -> None:
    daemon.job("one", 'program: "true"\n')
    await daemon.start(*daemon.config("[reload]\nwatch = false\n"))
    await post("/api/v1/runs", {"job_id": "one"})
    (run,) = await daemon.wait_runs(finished(1), "one")
    status, log = await get(f"/api/v1/runs/{run.id}/log")
    assert status == 200 and [line["state"] for line in log["log"] if line["state"]] == [
        "scheduled", "starting", "running", "success"]
    assert (await get("/api/v1/runs/r999999/log"))[0] == 404
    daemon.job("two", 'program: "true"\n')
    assert await post("/api/v1/reload?dry_run=1") == (200, {"added": ["two"], "changed": [], "removed": [],
                                                             "errors": [], "applied": False})
    assert [job["job_id"] for job in (await get("/api/v1/jobs"))[1]["jobs"]] == ["one"]  # nothing applied
    assert await post("/api/v1/reload") == (200, {"added": ["two"], "changed": [], "removed": [], "errors": [],
                                                  "applied": True})
    assert [job["job_id"] for job in (await get("/api/v1/jobs"))[1]["jobs"]] == ["one", "two"]
    daemon.job("bad", "program: {type: shell}\n")
    status, refused = await post("/api/v1/reload")
    assert status == 422 and refused["applied"] is False
    assert refused["errors"] == [f"{daemon.jobs}/bad.yaml:1: program.command: is required"]


@with_daemon()
async def test_skip_stop_and_mark_a_run(daemon: Daemon) -> None:
    daemon.job("later", 'schedule: {type: interval, interval: 1h}\nprogram: "true"\n')
    daemon.job("long", 'program: "sleep 60"\n')
    await daemon.start()
    await post("/api/v1/runs", {"job_id": "long"})
    (later, *_) = await daemon.wait_runs(lambda runs: bool(runs), "later", "a scheduled run")
    status, skipped = await post(f"/api/v1/runs/{later.id}/skip")
    assert (status, skipped["state"]) == (200, "skipped") and skipped["reason"].startswith("skipped by uid 0")
    status, again = await post(f"/api/v1/runs/{later.id}/skip")
    assert status == 409 and "only a scheduled or waiting run can be skipped" in again["error"]
    (long,) = await daemon.wait_runs(lambda runs: bool(runs) and runs[0].state is State.RUNNING, "long", "running")
    assert (await post(f"/api/v1/runs/{long.id}/stop"))[0] == 200
    (stopped,) = await daemon.wait_runs(finished(1), "long")
    assert (stopped.state, stopped.signal) == (State.FAILURE, "TERM") and "stopped on request" in stopped.reason
    status, marked = await post(f"/api/v1/runs/{long.id}/mark?state=success")
    assert (status, marked["state"], marked["reason"].startswith("marked as success")) == (200, "success", True)
    assert (await post(f"/api/v1/runs/{long.id}/mark?state=running"))[0] == 400
    assert (await post("/api/v1/runs/r999999/stop"))[0] == 404


@with_daemon()
async def test_create_rerun_and_signal_runs(daemon: Daemon) -> None:
    daemon.job("greet", 'params: [who]\nprogram: "echo hello {{ who }}; exit 3"\n')
    daemon.job("wait", 'program: "sleep 60"\n')
    await daemon.start()
    status, made = await post("/api/v1/runs", {"job_id": "greet", "args": {"who": "ops"}, "count": 2})
    assert status == 201 and [(r["origin"], r["args"]) for r in made["runs"]] == [("manual", {"who": "ops"})] * 2
    runs = await daemon.wait_runs(finished(2), "greet")
    assert [(run.state, run.exit_code) for run in runs] == [(State.FAILURE, 3)] * 2
    # An arg is a word of a shell command, never a command of its own.
    _, sly = await post("/api/v1/runs", {"job_id": "greet", "args": {"who": "ops; exit 0 #"}})
    (ran,) = [run for run in await daemon.wait_runs(finished(3), "greet") if run.id == sly["runs"][0]["run_id"]]
    assert (ran.state, ran.exit_code) == (State.FAILURE, 3)
    async with session() as client, client.get(f"http://apsis/api/v1/runs/{ran.id}/output") as response:
        assert await response.read() == b"hello ops; exit 0 #\n"
    status, error = await post("/api/v1/runs", {"job_id": "greet", "args": {"whom": "x"}})
    assert status == 400 and error["error"] == "job greet takes args who; missing: who; not params: whom"
    assert (await post("/api/v1/runs", {"job_id": "nope"}))[0] == 404
    assert (await post("/api/v1/runs", {"job_id": "greet", "args": {"who": "x"}, "at": "tomorrow"}))[0] == 400
    assert (await post("/api/v1/runs", ["not", "an", "object"]))[0] == 400
    status, again = await post(f"/api/v1/runs/{runs[0].id}/rerun")
    assert (status, again["origin"], again["previous"], again["args"]) == (201, "rerun", runs[0].id, {"who": "ops"})
    status, made = await post("/api/v1/runs", {"job_id": "wait"})
    (waiting,) = await daemon.wait_runs(lambda runs: bool(runs) and runs[0].state is State.RUNNING, "wait", "running")
    assert (await post(f"/api/v1/runs/{waiting.id}/signal?signal=NOSUCH"))[0] == 400
    assert (await post(f"/api/v1/runs/{waiting.id}/signal?signal=TERM"))[0] == 200
    (ended,) = await daemon.wait_runs(finished(1), "wait")
    assert (ended.state, ended.signal) == (State.FAILURE, "TERM")
    assert (await post(f"/api/v1/runs/{waiting.id}/signal?signal=TERM"))[0] == 409


@with_daemon()
async def test_a_runs_output_as_written(daemon: Daemon) -> None:
    daemon.job("talk", 'program: "printf \'one\\\\n\'; printf \'two\\\\n\' >&2; printf \'caf\\\\351\\\\n\'"\n')
    await daemon.start()
    await post("/api/v1/runs", {"job_id": "talk"})
    (run,) = await daemon.wait_runs(finished(1), "talk")
    async with session() as client, client.get(f"http://apsis/api/v1/runs/{run.id}/output") as response:
        assert (response.status, await response.read()) == (200, b"one\ntwo\ncaf\xe9\n")
    assert (await get("/api/v1/runs/r999999/output"))[0] == 404
