"""`tools/sandbox.py run --forward`: a server inside the sandbox, reached from here, on loopback only, and nothing left.

The relay itself is first driven in this process, with this process's own
network namespace standing for the sandbox's (entering it is harmless), so
its threads and files can be counted; then the harness forwards into a real
sandbox, from the host, like tests/sandbox/test_sandbox.py.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.test_sandbox import HARNESS, _sandbox_processes, _wait_until

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import sandbox  # noqa: E402
import sandbox_forward  # noqa: E402
from sandbox_forward import Forward, Forwarder  # noqa: E402

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="entering a network namespace (setns) needs root")
needs_sandbox = pytest.mark.skipif(
    os.geteuid() != 0 or sandbox.host_runs_systemd() or not sandbox.CGROUP_V2.is_dir(),
    reason="the sandbox harness is only used (and testable) as root on a host without systemd as PID 1",
)
TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


LISTEN, TIME_WAIT = "0A", "06"


def sockets(port: int) -> list[tuple[str, str]]:
    """(local address, state) of every TCP socket of local `port` in this network namespace (/proc/net/tcp, tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port:
                found.append((address, fields[3]))
    return found


def listening(port: int) -> list[str]:
    """The local addresses listening on TCP `port` here."""
    return [address for address, state in sockets(port) if state == LISTEN]


def assert_free(port: int) -> None:
    """Nothing holds `port` but the kernel's TIME_WAIT of closed connections, and a server may listen on it again
    (as every server does, and the forward itself: with SO_REUSEADDR, which TIME_WAIT does not stop)."""
    assert {state for _, state in sockets(port)} <= {TIME_WAIT}
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()


def open_files() -> set[str]:
    files = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            files.add(f"{fd} {os.readlink(f'/proc/self/fd/{fd}')}")
    return files


class Echo:
    """An echo server on 127.0.0.1 (the 'inside' of the in-process tests): echoes, then closes at end of input."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.threads: list[threading.Thread] = []
        self.accepter = threading.Thread(target=self._accept, name="echo-accept", daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._echo, args=(conn,), name="echo", daemon=True)
            self.threads.append(thread)
            thread.start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.accepter.join(TIMEOUT)
        for thread in self.threads:
            thread.join(TIMEOUT)


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.close()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return sock


def exchange(sock: socket.socket, data: bytes) -> bytes:
    """Send `data`, pass on the end of input, read until the other side's end."""
    sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    got = b""
    while chunk := sock.recv(65536):
        got += chunk
    return got


def test_a_forward_is_port_or_port_colon_inner() -> None:
    assert sandbox_forward.parse("8080") == Forward(8080, 8080)
    assert sandbox_forward.parse("8080:5050") == Forward(8080, 5050)
    for bad in ("", "x", "8080:", "0", "65536", "8080:70000", "-1"):
        with pytest.raises(sandbox_forward.ForwardError):
            sandbox_forward.parse(bad)
    proc = subprocess.run([*HARNESS, "run", "--forward", "8080", "--forward", "8080:5050", "--", "true"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "each port of this machine once" in proc.stderr


@needs_root
def test_bytes_go_both_ways_and_an_end_of_input_is_passed_on(echo: Echo) -> None:
    port = free_port()
    with Forwarder(os.getpid(), [Forward(port, echo.port)]):
        big = os.urandom(3_000_000)  # more than any socket buffer: both directions flow at once
        with connect(port) as sock:
            assert exchange(sock, big) == big
        with connect(port) as sock:
            assert exchange(sock, b"") == b""


@needs_root
def test_over_the_cap_a_connection_is_closed_at_once_and_a_freed_slot_is_reused(echo: Echo) -> None:
    port = free_port()
    with Forwarder(os.getpid(), [Forward(port, echo.port)], max_connections=2) as forwarder:
        held = [connect(port), connect(port)]
        for sock in held:
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
        with connect(port) as third:
            assert third.recv(1) == b"", "the third connection should be closed at once"
        held.pop().close()
        _wait_until(lambda: len(forwarder._threads) == 1, "the closed connection's relay to end", TIMEOUT)
        with connect(port) as again:
            assert exchange(again, b"room again") == b"room again"
        for sock in held:
            sock.close()


@needs_root
def test_nothing_listening_inside_closes_the_connection_and_says_why(capfd: pytest.CaptureFixture[str]) -> None:
    port, inner = free_port(), free_port()
    with Forwarder(os.getpid(), [Forward(port, inner)]), connect(port) as sock:
        assert sock.recv(1) == b""
    assert f"127.0.0.1:{inner} inside: Connection refused" in capfd.readouterr().err


@needs_root
def test_close_ends_every_thread_and_file_and_frees_the_port_with_connections_open() -> None:
    threads, files = set(threading.enumerate()), open_files()
    echo = Echo()
    port = free_port()
    forwarder = Forwarder(os.getpid(), [Forward(port, echo.port)])
    clients: list[socket.socket] = []
    try:
        forwarder.start()
        assert listening(port) == ["0100007F"], "127.0.0.1 only"
        clients = [connect(port) for _ in range(5)]
        for sock in clients:
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
        forwards = [t for t in threading.enumerate() if t.name.startswith("sandbox-forward")]
        assert len(forwards) == 6, "the acceptor and a relay per connection"
        for thread in forwards:  # so that a SIGTERM to the harness reaches its main thread (the kernel picks any)
            assert _blocked(thread) & {signal.SIGTERM, signal.SIGINT, signal.SIGHUP} == {
                signal.SIGTERM, signal.SIGINT, signal.SIGHUP}, thread.name
        assert forwarder.close() == []
        for sock in clients:  # each was shut by the forward: its end of input arrives
            assert sock.recv(1) == b""
    finally:
        forwarder.close()
        for sock in clients:
            sock.close()
    echo.close()  # its connections saw their end too, so its threads end
    assert set(threading.enumerate()) == threads
    assert open_files() == files
    assert_free(port)


def _blocked(thread: threading.Thread) -> set[int]:
    """The signals a thread of this process blocks (/proc/self/task/TID/status, SigBlk)."""
    for line in Path(f"/proc/self/task/{thread.native_id}/status").read_text().splitlines():
        if line.startswith("SigBlk:"):
            mask = int(line.split()[1], 16)
            return {number + 1 for number in range(64) if mask >> number & 1}
    raise AssertionError("no SigBlk")


@needs_root
def test_a_port_in_use_here_fails_the_start_and_leaves_nothing(echo: Echo) -> None:
    threads, files = set(threading.enumerate()), open_files()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        with pytest.raises(sandbox_forward.ForwardError, match=f"127.0.0.1:{port} here: Address already in use"):
            Forwarder(os.getpid(), [Forward(free_port(), echo.port), Forward(port, echo.port)]).start()
    assert set(threading.enumerate()) == threads
    assert open_files() == files


def test_where_systemd_is_pid_1_a_forward_does_nothing_but_say_so(monkeypatch: pytest.MonkeyPatch,
                                                                    capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sandbox, "host_runs_systemd", lambda: True)
    monkeypatch.delenv("APSIS_SANDBOX_FORCE", raising=False)
    port = free_port()
    assert sandbox.main(["run", "--forward", str(port), "--", "sh", "-c", "exit 3"]) == 3
    assert "--forward does nothing here" in capfd.readouterr().err
    assert listening(port) == []


# From here on, through the harness into a real sandbox.

ECHO_INSIDE = r"""
import socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
conn, _ = server.accept()
with conn:
    while data := conn.recv(65536):
        conn.sendall(data)
print("served", flush=True)
"""


@contextlib.contextmanager
def forwarding_harness(forward: str, *cmd: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([*HARNESS, "run", "--forward", forward, "--", *cmd],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def left_behind(harness_pid: int, port: int) -> None:
    """After a run: the port is free here and no process of that sandbox is left."""
    assert_free(port)
    _wait_until(lambda: not _sandbox_processes(harness_pid), "the sandbox's processes to end", 30)
    assert not list(sandbox.CGROUP_V2.glob(f"{sandbox.PREFIX}{harness_pid}-*"))


@needs_sandbox
def test_a_server_inside_is_reached_from_here_on_loopback_only() -> None:
    port, inner = free_port(), free_port()
    with forwarding_harness(f"{port}:{inner}", sys.executable, "-c", ECHO_INSIDE, str(inner)) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == "ready\n"
        assert listening(port) == ["0100007F"], "the forward listens on 127.0.0.1 and no other address"
        assert listening(inner) == [], "the server listens inside the sandbox, not here"
        with pytest.raises(ConnectionRefusedError):
            connect(inner).close()
        with connect(port) as sock:
            assert exchange(sock, b"through the forward") == b"through the forward"
        assert proc.wait(timeout=60) == 0
        assert proc.stdout.read() == "served\n"
        err = proc.stderr.read()
        assert f"sandbox: forwarding 127.0.0.1:{port} -> 127.0.0.1:{inner} inside, while the command runs" in err
    left_behind(proc.pid, port)


HTTP_INSIDE = r"""
import http.server, sys
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<p>from inside</p>\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Page)
print("ready", flush=True)
server.serve_forever()
"""


@needs_sandbox
def test_an_http_server_inside_is_served_here_until_the_harness_is_interrupted() -> None:
    port = free_port()
    with forwarding_harness(f"{port}:8000", sys.executable, "-c", HTTP_INSIDE, "8000") as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == "ready\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/page.html", timeout=TIMEOUT) as reply:
            assert reply.status == 200
            assert reply.read() == b"<p>from inside</p>\n"
        idle = connect(port)  # open, quiet: the interrupt must not wait for it
        idle.sendall(b"GET /page.html HTTP/1.1\r\nHost: x\r\n")  # never finished
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 130
        assert time.monotonic() - started < 15
        with idle:
            idle.settimeout(TIMEOUT)
            with contextlib.suppress(ConnectionResetError):
                assert idle.recv(1) == b""
        assert "torn down" in proc.stderr.read()
    left_behind(proc.pid, port)


@needs_sandbox
def test_a_port_taken_here_fails_the_run_before_its_command() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        with forwarding_harness(str(port), "echo", "ran") as proc:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 125
            assert f"127.0.0.1:{port} here: Address already in use" in err
            assert "ran" not in out
        assert listening(port) == ["0100007F"], "the port's own listener, untouched"
    left_behind(proc.pid, port)
