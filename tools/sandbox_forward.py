"""Ports of this machine's loopback relayed into the main sandbox's network namespace.

A sandbox boots with a network namespace of its own (`unshare --net`): a
server inside that listens on 127.0.0.1 is out of reach of a browser on this
machine, whose 127.0.0.1 is another loopback device. `tools/sandbox.py run
--forward PORT[:INNER]` hands the booted sandbox to this module, which, while
the command runs:

- listens here, in the harness's own network namespace, on 127.0.0.1:PORT
  and on no other address;
- for each connection, starts a thread that enters the sandbox's network
  namespace with setns(2) (Python 3.11 has no os.setns: through ctypes) and
  makes there a socket that connects to 127.0.0.1:INNER. setns of a network
  namespace changes the calling thread only, and a socket stays in the
  namespace it was made in, so the harness's other threads, the listening
  sockets among them, never leave the machine's own; and a thread that
  entered the sandbox's is never reused: it ends with its connection;
- relays the bytes both ways, passing on an end of input (a half-close) to
  the other side, until both sides have closed, or either fails;
- holds at most `max_connections` at once: one more is closed as soon as it
  is accepted.

The sandbox's namespace is opened once, when the forward starts (while its
systemd is known to be the process of that pid), so a pid reused after
the sandbox is gone is never entered. `close()` stops accepting, shuts every
relayed socket down, ends and joins every thread, and closes every file it
opened: nothing is left once the command ends or the harness is interrupted.

Deliberately standard library only, like tools/sandbox.py.
"""
from __future__ import annotations

import ctypes
import os
import selectors
import signal
import socket
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
LOOPBACK = "127.0.0.1"
MAX_CONNECTIONS = 64
CONNECT_TIMEOUT = 5.0  # to the server inside: on loopback it answers at once, or never
JOIN_TIMEOUT = 10.0  # longer than a connect inside may take
CHUNK = 65536

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.setns.argtypes = (ctypes.c_int, ctypes.c_int)
_LIBC.setns.restype = ctypes.c_int


class ForwardError(Exception):
    """A port could not be forwarded (in use here, a bad number, the sandbox gone); nothing of it is left."""


@dataclass(frozen=True, slots=True)
class Forward:
    """127.0.0.1:`port` here relayed to 127.0.0.1:`inner` inside."""

    port: int
    inner: int

    def __str__(self) -> str:
        return f"{LOOPBACK}:{self.port} -> {LOOPBACK}:{self.inner}"


def parse(text: str) -> Forward:
    """`PORT` or `PORT:INNER` (INNER defaults to PORT), each 1 to 65535."""
    outer, colon, inner = text.partition(":")
    try:
        port = int(outer)
        inside = int(inner) if colon else port
    except ValueError:
        raise ForwardError(f"--forward {text!r}: PORT or PORT:INNER, numbers") from None
    for number in (port, inside):
        if not 1 <= number <= 65535:
            raise ForwardError(f"--forward {text!r}: a port is 1 to 65535")
    return Forward(port, inside)


def enter_netns(fd: int) -> None:
    """Move the calling thread (only it) into the network namespace open at `fd`."""
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class Forwarder:
    """The forwards of `forwards` into the network namespace of process `pid`; a context manager."""

    def __init__(self, pid: int, forwards: Iterable[Forward], max_connections: int = MAX_CONNECTIONS) -> None:
        self.pid = pid
        self.forwards = list(forwards)
        ports = [f.port for f in self.forwards]
        if len(set(ports)) != len(ports):
            raise ForwardError("--forward: a port of this machine is forwarded once")
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        self._closing = False
        self._sockets: set[socket.socket] = set()  # every relayed socket still open, both sides
        self._threads: set[threading.Thread] = set()  # every relay thread not yet ended
        self._listeners: list[tuple[socket.socket, Forward]] = []
        self._netns: int | None = None
        self._wake: tuple[int, int] | None = None  # written once at close: every select wakes, for good
        self._acceptor: threading.Thread | None = None

    def __enter__(self) -> Forwarder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        return ", ".join(map(str, self.forwards))

    def start(self) -> None:
        """Open the namespace and listen on every port (ForwardError if one is taken), then accept."""
        try:
            self._netns = os.open(f"/proc/{self.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            for forward in self.forwards:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._listeners.append((listener, forward))
                # Lets the port be listened on again at once after the run, whatever connections
                # linger in TIME_WAIT; it never lets two listeners share it.
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    listener.bind((LOOPBACK, forward.port))
                except OSError as exc:
                    raise ForwardError(f"--forward {forward.port}: {LOOPBACK}:{forward.port} here: "
                                       f"{exc.strerror}") from exc
                listener.listen(self.max_connections)
                listener.setblocking(False)
            self._wake = os.pipe()
            self._acceptor = threading.Thread(target=self._accept, name="sandbox-forward-accept", daemon=True)
            # Every signal blocked in the acceptor, and so in the relays it starts (a thread is born with its
            # creator's mask): the kernel hands a process's signal to any thread that does not block it, and
            # one taken by a relay would leave the main thread in waitpid(), deaf to the SIGTERM meant for it.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            try:
                self._acceptor.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        except OSError as exc:
            self.close()
            raise ForwardError(f"--forward: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def close(self) -> list[str]:
        """Stop, shut every connection, join every thread, close every file; the threads that would not end."""
        with self._lock:
            self._closing = True
        if self._wake is not None:
            os.write(self._wake[1], b"x")
        if self._acceptor is not None and self._acceptor.ident is not None:  # started
            self._acceptor.join(JOIN_TIMEOUT)
        with self._lock:
            # Unblocks a relay thread in recv or sendall. Under the lock: a thread closes its
            # sockets under it too, so none is shut here after its number went to another file.
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            threads = list(self._threads)
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
        stuck = [t.name for t in [self._acceptor, *threads] if t is not None and t.is_alive()]
        if stuck:  # daemon threads: they die with the harness, but say so
            print(f"sandbox: forward threads still running at close: {', '.join(stuck)}", file=sys.stderr)
            return stuck
        for listener, _ in self._listeners:
            listener.close()
        self._listeners = []
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None
        if self._netns is not None:
            os.close(self._netns)
            self._netns = None
        self._acceptor = None
        return []

    def _accept(self) -> None:
        assert self._wake is not None
        with selectors.DefaultSelector() as selector:
            for listener, forward in self._listeners:
                selector.register(listener, selectors.EVENT_READ, forward)
            selector.register(self._wake[0], selectors.EVENT_READ, None)
            while True:
                for key, _ in selector.select():
                    if key.data is None:
                        return
                    try:
                        client, _address = key.fileobj.accept()  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                        continue
                    except OSError as exc:  # out of files: leave it in the backlog, say so
                        print(f"sandbox: forward {key.data.port}: accept: {exc}", file=sys.stderr)
                        continue
                    self._admit(client, key.data)

    def _admit(self, client: socket.socket, forward: Forward) -> None:
        if not self._slots.acquire(blocking=False):
            client.close()  # over the cap: refused at once rather than kept waiting
            return
        client.setblocking(True)
        thread = threading.Thread(target=self._relay, args=(client, forward),
                                  name=f"sandbox-forward-{forward.port}", daemon=True)
        with self._lock:
            if self._closing:
                client.close()
                self._slots.release()
                return
            self._sockets.add(client)
            self._threads.add(thread)
        thread.start()

    def _relay(self, client: socket.socket, forward: Forward) -> None:
        inner: socket.socket | None = None
        try:
            inner = self._connect_inside(forward.inner)
            if inner is not None:
                self._pump(client, inner)
        except OSError as exc:
            if inner is None and not self._closing:  # a reset while relaying is the peers' business
                print(f"sandbox: forward {forward.port}: {LOOPBACK}:{forward.inner} inside: "
                      f"{exc.strerror or exc}", file=sys.stderr)
        finally:
            with self._lock:
                for sock in (client, inner):
                    if sock is not None:
                        self._sockets.discard(sock)
                        sock.close()
                self._threads.discard(threading.current_thread())
            self._slots.release()

    def _connect_inside(self, port: int) -> socket.socket | None:
        assert self._netns is not None
        enter_netns(self._netns)  # this thread only, and it ends with the connection
        inner = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with self._lock:
            if self._closing:
                inner.close()
                return None
            self._sockets.add(inner)
        try:
            inner.settimeout(CONNECT_TIMEOUT)
            inner.connect((LOOPBACK, port))
            inner.settimeout(None)
        except BaseException:
            with self._lock:
                self._sockets.discard(inner)
                inner.close()
            raise
        return inner

    def _pump(self, client: socket.socket, inner: socket.socket) -> None:
        """Bytes both ways; an end of input is passed on as one; done when both ends are, or at close."""
        assert self._wake is not None
        towards = {client: inner, inner: client}
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(inner, selectors.EVENT_READ)
            selector.register(self._wake[0], selectors.EVENT_READ)
            while towards:
                for key, _ in selector.select():
                    source = key.fileobj
                    if not isinstance(source, socket.socket):
                        return  # closing
                    data = source.recv(CHUNK)
                    if data:
                        towards[source].sendall(data)
                    else:
                        selector.unregister(source)
                        towards.pop(source).shutdown(socket.SHUT_WR)
