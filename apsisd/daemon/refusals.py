"""Connections turned away at the door (daemon/door.py), answered a fixed HTTP refusal with the API's JSON error,
their requests read and dropped, never parsed.

The answer is written once the peer's request has come, or LINGER seconds after accept without one: a client that
writes its request after apsisd has closed the connection gets a broken pipe, not the answer (the CLI would say it
lost the connection, not why it was refused). Nearly always the request is there at accept, and nothing waits. At
most MAX_WAITING peers are waited for at once; beyond, they are answered and closed at once. Over TLS there is no
plain answer to write: the connection is only closed.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import socket

from apsisd.daemon.door import Refused

LINGER = 1.0
MAX_WAITING = 256
READ = 1 << 16  # bytes of a refused request read (and dropped): a head, and then some


class Refusals:
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._waiting: dict[int, tuple[socket.socket, asyncio.TimerHandle]] = {}

    def turn_away(self, conn: socket.socket, refused: Refused, *, plain: bool) -> None:
        """Answer `conn` (non-blocking) with `refused` once its request has come, and close it."""
        if not plain:
            conn.close()
            return
        answer = _answer(refused)
        try:
            conn.recv(READ)
        except BlockingIOError:
            if len(self._waiting) < MAX_WAITING:
                fd = conn.fileno()
                self._waiting[fd] = (conn, self._loop.call_later(LINGER, self._answer, fd, answer))
                self._loop.add_reader(fd, self._answer, fd, answer)
                return
        except OSError:
            pass  # gone: the answer's send fails too, and it is closed
        _send_and_close(conn, answer)

    def _answer(self, fd: int, answer: bytes) -> None:
        conn, timer = self._waiting.pop(fd)
        timer.cancel()
        self._loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            conn.recv(READ)  # a socket closed with a request unread would reset the connection
        _send_and_close(conn, answer)

    def close(self) -> None:
        for fd, (conn, timer) in self._waiting.items():
            timer.cancel()
            self._loop.remove_reader(fd)
            conn.close()
        self._waiting.clear()


def _answer(refused: Refused) -> bytes:
    body = json.dumps({"error": refused.message}).encode()
    return (f"HTTP/1.1 {refused.status} {refused.reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def _send_and_close(conn: socket.socket, answer: bytes) -> None:
    with contextlib.suppress(OSError):
        conn.send(answer)
    conn.close()
