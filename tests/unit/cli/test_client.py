"""The HTTP client against a stand-in for apsisd (a real HTTP server on a Unix socket or TCP, answering as told):
every way of failing becomes one clear message; the token and the query go out as they should."""
from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from apsisd.cli.address import parse_url
from apsisd.cli.client import ApiError, Client, NotAllowed, TokenInClear, Unreachable
from apsisd.cli.main import apsis

Answer = tuple[int, bytes, str]  # status, body, content type; or a function of the handler that gives one


class Handler(BaseHTTPRequestHandler):
    """Answers each path from the server's `answers`; records each request as (method, path, headers, body)."""

    server: Any

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.requests.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
        found = self.server.answers.get(self.path.split("?")[0], (404, b'{"error": "Not Found"}',
                                                                  "application/json"))
        status, body, kind = found(self) if callable(found) else found
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "test"


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@contextmanager
def serve(server: Any, answers: dict[str, Answer]) -> Iterator[Any]:
    server.answers, server.requests = answers, []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Any]:
    """A stand-in apsisd on tmp_path/api.sock; set `.answers[path] = (status, body, type)`."""
    with serve(UnixServer(str(tmp_path / "api.sock"), Handler), {}) as server:
        yield server


def answer(status: int, body: Any) -> Answer:
    return status, json.dumps(body).encode(), "application/json"


def client(tmp_path: Path, **options: Any) -> Client:
    return Client(parse_url(f"unix:{tmp_path}/api.sock"), **options)


def test_apsisd_not_running_no_socket_or_nobody_listening(tmp_path: Path) -> None:
    with pytest.raises(Unreachable) as caught:
        client(tmp_path).get("/api/v1/health")
    assert str(caught.value) == (f"apsisd is not running: no socket at {tmp_path}/api.sock (start it: systemctl --user "
                                 "start apsisd)")
    left = socket.socket(socket.AF_UNIX)
    left.bind(str(tmp_path / "api.sock"))  # what a killed apsisd leaves: a socket nobody listens on
    try:
        with pytest.raises(Unreachable, match=f"apsisd is not running: nothing listens on {tmp_path}/api.sock"):
            client(tmp_path).get("/api/v1/health")
    finally:
        left.close()


def test_access_refused_is_said_once_in_the_apis_words(tmp_path: Path, api: Any) -> None:
    api.answers["/api/v1/health"] = answer(403, {"error": "not allowed: the API answers root, apsisd's user and the "
                                                          "group apsis"})
    api.answers["/api/v1/reload"] = answer(401, {"error": "this address needs a bearer token"})
    with pytest.raises(NotAllowed) as caught:
        client(tmp_path).get("/api/v1/health")
    assert str(caught.value) == "not allowed: the API answers root, apsisd's user and the group apsis"
    with pytest.raises(NotAllowed, match=r"^not allowed: this address needs a bearer token$"):
        client(tmp_path).post("/api/v1/reload")


def test_api_errors_carry_their_message_and_status(tmp_path: Path, api: Any) -> None:
    api.answers["/api/v1/runs/r1/skip"] = answer(409, {"error": "run r1 is success; it cannot become skipped"})
    api.answers["/api/v1/runs"] = (502, b"<html>Bad Gateway</html>", "text/html")
    with pytest.raises(ApiError) as caught:
        client(tmp_path).post("/api/v1/runs/r1/skip")
    assert (caught.value.status, str(caught.value)) == (409, "run r1 is success; it cannot become skipped")
    with pytest.raises(ApiError, match=f"^unix:{tmp_path}/api.sock answered GET /api/v1/runs with 502 Bad Gateway$"):
        client(tmp_path).get("/api/v1/runs")
    with pytest.raises(ApiError, match=r"does not know GET /api/v1/events \(is apsisd older than this apsis\?\)"):
        client(tmp_path).get("/api/v1/events")


def test_an_answer_that_is_not_json(tmp_path: Path, api: Any) -> None:
    api.answers["/api/v1/health"] = (200, b"hello", "text/plain")
    with pytest.raises(Unreachable, match=r"with something that is not JSON; is it apsisd\?"):
        client(tmp_path).get("/api/v1/health")


def test_queries_bodies_and_the_token(tmp_path: Path, api: Any) -> None:
    api.answers["/api/v1/runs"] = answer(201, {"runs": []})
    api.answers["/api/v1/runs/r1"] = answer(200, {"run_id": "r1"})
    body = client(tmp_path, token="s3cret").post("/api/v1/runs", [("state", "failure"), ("state", "error")],
                                                 body={"job_id": "a/b"})
    assert body == {"runs": []}
    ((method, path, headers, sent),) = api.requests
    assert (method, path, json.loads(sent)) == ("POST", "/api/v1/runs?state=failure&state=error", {"job_id": "a/b"})
    assert (headers["Authorization"], headers["Content-Type"]) == ("Bearer s3cret", "application/json")
    client(tmp_path).get("/api/v1/runs/r1")
    assert "Authorization" not in api.requests[-1][2]


def test_over_http_with_a_path_prefix() -> None:
    with serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler),
               {"/apsis/api/v1/health": answer(200, {"status": "ok"})}) as server:
        port = server.server_address[1]
        assert Client(parse_url(f"http://127.0.0.1:{port}/apsis")).get("/api/v1/health") == {"status": "ok"}
    with pytest.raises(Unreachable, match=f"apsisd is not running: http://127.0.0.1:{port} refused the connection"):
        Client(parse_url(f"http://127.0.0.1:{port}")).get("/api/v1/health")


def test_the_command_says_it_in_one_line_and_exits_2(tmp_path: Path, api: Any) -> None:
    api.answers["/api/v1/runs"] = answer(403, {"error": "not allowed: uid 65534 (pid 7) may read, not operate"})
    result = CliRunner().invoke(apsis, ["--url", f"unix:{tmp_path}/api.sock", "run", "hello"])
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", "apsis: not allowed: uid 65534 (pid 7) may read, not operate\n")
    result = CliRunner().invoke(apsis, ["status"], env={"APSIS_URL": f"unix:{tmp_path}/none.sock"})
    assert (result.exit_code, result.stderr) == (
        2, f"apsis: apsisd is not running: no socket at {tmp_path}/none.sock (start it: systemctl --user start "
           "apsisd)\n")


def test_the_token_from_a_file_or_the_environment(tmp_path: Path, api: Any) -> None:
    api.answers["/api/v1/jobs"] = answer(200, {"jobs": []})
    url = f"unix:{tmp_path}/api.sock"
    (tmp_path / "token").write_text("from-file\n")
    assert CliRunner().invoke(apsis, ["--url", url, "--token-file", str(tmp_path / "token"), "jobs"],
                              env={"APSIS_TOKEN": "from-env"}).exit_code == 0
    assert CliRunner().invoke(apsis, ["--url", url, "jobs"], env={"APSIS_TOKEN": "from-env"}).exit_code == 0
    assert [request[2]["Authorization"] for request in api.requests] == ["Bearer from-file", "Bearer from-env"]
    (tmp_path / "empty").write_text("\n")
    result = CliRunner().invoke(apsis, ["--url", url, "--token-file", str(tmp_path / "empty"), "jobs"])
    assert (result.exit_code, result.stderr) == (
        2, f"apsis: --token-file: {tmp_path}/empty is empty; it should hold the token on its first line\n")


@pytest.mark.parametrize("url", ["http://ci.example.com:8080", "http://10.0.0.7:8080", "http://[2001:db8::1]:80",
                                 "http://127.0.0.1.example.com:80"])
def test_a_token_never_goes_in_clear_off_the_host(url: str) -> None:
    with pytest.raises(TokenInClear) as caught:
        Client(parse_url(url), token="s3cret")
    secure = url.replace("http://", "https://")
    assert str(caught.value) == (f"will not send the token over plain HTTP to {url}: anyone on the way could read it "
                                 f"and use it; use {secure} (apsisd with tls_cert and tls_key), or reach apsisd on "
                                 "loopback (an SSH tunnel to 127.0.0.1)")
    assert Client(parse_url(url)).address == parse_url(url)  # without a token: nothing to give away
    assert Client(parse_url(secure), token="s3cret").token == "s3cret"
    result = CliRunner().invoke(apsis, ["--url", url, "jobs"], env={"APSIS_TOKEN": "s3cret"})
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"apsis: will not send the token over plain HTTP to {url}: ")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.3.4.5:8080", "http://[::1]:8080",
                                 "http://localhost:8080"])
def test_a_token_may_go_in_clear_on_loopback(url: str) -> None:
    assert Client(parse_url(url), token="s3cret").token == "s3cret"


def finished_run(**fields: Any) -> dict[str, Any]:
    return {"run_id": "r5", "job_id": "adhoc", "args": {}, "state": "failure", "times": {
        "schedule": "2026-03-09T13:00:00+00:00", "running": "2026-03-09T13:00:01+00:00",
        "failure": "2026-03-09T13:00:02+00:00"}, "exit_code": 7, "signal": None, "result": "exit-code",
        "reason": "exit code 7", **fields}


def test_run_wait_follows_the_output_from_where_it_was_and_exits_as_the_run_did(tmp_path: Path, api: Any) -> None:
    """The output stream ends early twice (apsisd stopping): each time it is asked for again from the byte reached,
    by a range, and nothing is printed twice."""
    outputs = iter([(200, b"one\n"), (200, b"two\n"), (200, b"three\n")])
    runs = iter([finished_run(state="running"), finished_run(state="running"), finished_run()])
    api.answers["/api/v1/runs"] = answer(201, {"runs": [finished_run(state="scheduled")]})
    api.answers["/api/v1/runs/r5/output"] = lambda handler: (*next(outputs), "application/octet-stream")
    api.answers["/api/v1/runs/r5"] = lambda handler: answer(200, next(runs))
    result = CliRunner().invoke(apsis, ["--url", f"unix:{tmp_path}/api.sock", "run", "--wait", "--shell", "x"])
    assert (result.exit_code, result.stdout) == (7, "one\ntwo\nthree\n")
    assert result.stderr.splitlines() == ["Running as r5 (adhoc); Ctrl-C stops waiting, not the run.",
                                          "Finished r5: failure (exit 7), ran 1s."]
    ranges = [request[2].get("Range") for request in api.requests if "/output" in request[1]]
    assert ranges == [None, "bytes=4-", "bytes=8-"]
    assert all("follow=1" in request[1] for request in api.requests if "/output" in request[1])
    assert json.loads(api.requests[0][3]) == {"program": "x"}


def test_status_of_an_apsisd_not_scheduling_exits_1(tmp_path: Path, api: Any) -> None:
    api.answers["/api/v1/health"] = answer(503, {"status": "degraded", "scheduling": False, "jobs": 3,
                                                 "runs_in_flight": 0, "version": "0.1.0"})
    result = CliRunner().invoke(apsis, ["--url", f"unix:{tmp_path}/api.sock", "status"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:2] == ["         apsisd: up, NOT scheduling (degraded)",
                                              f"        Address: unix:{tmp_path}/api.sock"]


def test_status_says_degraded_with_the_problem_when_the_state_cannot_be_written(tmp_path: Path, api: Any) -> None:
    problem = ("the state cannot be written: state database /var/lib/apsis/apsis.db: the changes were not written: "
               "database or disk is full; nothing is started that cannot be recorded")
    api.answers["/api/v1/health"] = answer(503, {
        "status": "degraded", "scheduling": True, "jobs": 3, "runs_in_flight": 2, "version": "1.0",
        "started": "2026-03-09T13:00:00+00:00", "problem": problem})
    result = CliRunner().invoke(apsis, ["--url", f"unix:{tmp_path}/api.sock", "status"], env={"NO_COLOR": "1"})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split(None, 1)[1].strip() == "up, DEGRADED"
    assert lines[1].split(None, 1)[1].strip() == problem


def test_status_and_check_say_what_the_jobs_folder_holds_and_exit_1(tmp_path: Path, api: Any) -> None:
    """apsisd started with job files with problems: it schedules the others (200, scheduling), and holds those."""
    problem = ("the jobs folder has 1 problems in 1 files; 1 jobs are held (not scheduled, their runs kept) until a "
               "reload reads their files again: see the log or `apsis check`, fix them and reload")
    api.answers["/api/v1/health"] = answer(200, {
        "status": "degraded", "scheduling": True, "jobs": 3, "runs_in_flight": 2, "version": "1.0",
        "started": "2026-03-09T13:00:00+00:00", "problem": problem,
        "jobs_folder": {"problems": 1, "files": ["/etc/apsis/jobs/etl.yaml"], "held": ["etl"]}})
    result = CliRunner().invoke(apsis, ["--url", f"unix:{tmp_path}/api.sock", "status"], env={"NO_COLOR": "1"})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split(None, 1)[1].strip() == "up, scheduling, DEGRADED"
    assert lines[1].split(None, 1)[1].strip() == problem
    api.answers["/api/v1/check"] = answer(200, {
        "ok": False, "late": [], "overdue": [], "lost": [], "orphan_units": [], "unscheduled_jobs": [],
        "job_file_problems": ["/etc/apsis/jobs/etl.yaml:3: schedule: is required"], "held_jobs": ["etl"]})
    result = CliRunner().invoke(apsis, ["--url", f"unix:{tmp_path}/api.sock", "check"], env={"NO_COLOR": "1"})
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "Problems in the jobs folder (fix them, then reload):",
        "  /etc/apsis/jobs/etl.yaml:3: schedule: is required",
        "Jobs held (not scheduled, their runs kept) until a reload reads their files: etl"]
