"""`tools/demo web`: apsisd's page, served inside a sandbox, reached from this machine at 127.0.0.1:8080.

Run from the host, as a user runs it: the demo boots its sandbox, forwards
the port out of it (tools/sandbox.py --forward) and prints the token to
sign in with. Its state goes to the test's folder ($APSIS_DEMO_DIR), not
the checkout's .demo.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.test_sandbox import _sandbox_processes, _wait_until
from tests.sandbox.test_sandbox_forward import assert_free, listening, needs_sandbox

ROOT = Path(__file__).resolve().parents[2]
URL = "http://127.0.0.1:8080"
TIMEOUT = 120.0


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


pytestmark = [needs_sandbox,
              pytest.mark.skipif(_port_taken(8080), reason="127.0.0.1:8080 is in use on this machine")]


class Demo:
    """`tools/demo web ...` in a session of its own (so that a Ctrl-C can be sent to it as a terminal would)."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.proc = subprocess.Popen([str(ROOT / "tools" / "demo"), "web", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, "APSIS_DEMO_DIR": str(folder)})
        self.out = b""

    def read_until(self, text: str, timeout: float = TIMEOUT) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} from the demo in {timeout:g} s:\n{self.out.decode()}")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError(f"the demo ended before {text!r}:\n{self.out.decode()}")
                self.out += chunk
        return self.out.decode()

    def token(self) -> str:
        found = re.search(r"Sign in there with this token.*\n\n +(\S+)\n", self.read_until("API takes it too"))
        assert found, self.out.decode()
        return found.group(1)

    def wait(self) -> int:
        assert self.proc.stdout is not None
        rest, _ = self.proc.communicate(timeout=TIMEOUT)
        self.out += rest
        return self.proc.returncode


@contextlib.contextmanager
def demo(folder: Path, *args: str) -> Iterator[Demo]:
    running = Demo(folder, *args)
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            os.killpg(running.proc.pid, signal.SIGTERM)
            running.proc.wait(timeout=60)
        if running.proc.stdout:
            running.proc.stdout.close()
    # The harness is the process tools/demo exec'd: its sandbox, port and processes must all be gone.
    assert_free(8080)
    _wait_until(lambda: not _sandbox_processes(running.proc.pid), "the demo's sandbox to end", 30)


def get(path: str, token: str | None) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(URL + path, headers=headers), timeout=30) as reply:
            return reply.status, reply.headers.get("Content-Type", ""), reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def test_demo_web_for_some_seconds_serves_the_api_here_then_stops(tmp_path: Path) -> None:
    with demo(tmp_path / "demo", "5") as running:
        token = running.token()
        status, _, body = get("/api/v1/health", token)
        assert status == 200
        assert json.loads(body)["status"] == "ok"
        assert running.wait() == 0
        out = running.out.decode()
        assert "forwarding 127.0.0.1:8080 -> 127.0.0.1:5050 inside" in out
        assert f"{URL}/\n" in out
        assert "apsisd stopped (exit status 0)." in out


def test_demo_web_serves_the_page_here_until_ctrl_c_then_stops_apsisd_cleanly(tmp_path: Path) -> None:
    with demo(tmp_path / "demo") as running:
        token = running.token()
        running.read_until("Ctrl-C stops it.")
        assert listening(8080) == ["0100007F"], "the demo's page is for this machine only"
        status, kind, body = get("/runs", token)
        assert status == 200, body
        assert kind.startswith("text/html")
        assert get("/api/v1/health", None)[0] == 401
        assert get("/api/v1/health", token + "x")[0] == 401
        os.killpg(running.proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the harness and all inside
        status = running.wait()
        out = running.out.decode()
        assert status == 0, out
        assert "apsisd stopped (exit status 0)." in out
        assert "interrupted" not in out, "the harness must wait for the demo, not tear it down under apsisd"
