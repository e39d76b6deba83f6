"""Talking to apsisd's HTTP API, with the standard library only: on its Unix socket, or over HTTP(S) with a token.

Every way it can go wrong becomes an ApsisError fit to print: apsisd not
running (which socket, how to start it), access refused (the API's own
words), an API error (its JSON "error" text). One connection per request:
the commands make a handful, and a stream (output, events) holds its own.
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from apsisd.cli.address import Address
from apsisd.errors import ApsisError

Query = Sequence[tuple[str, str]] | Mapping[str, str]
TIMEOUT = 30.0  # seconds for a plain request; apsisd answers in milliseconds, so this is a hung daemon


class Unreachable(ApsisError):
    """apsisd could not be reached: not running, not listening there, or the connection broke."""


class NotAllowed(ApsisError):
    """apsisd (or the socket's permissions) refused the caller."""


class TokenInClear(ApsisError):
    """A token would go over plain HTTP to another machine."""


class ApiError(ApsisError):
    """apsisd answered with an error (4xx): its message, and the status for callers that tell them apart."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (the Host header says `apsis`)."""

    def __init__(self, path: Path, timeout: float | None) -> None:
        super().__init__("apsis", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(str(self.socket_path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class Client:
    """apsisd's API at `address`; `token` goes with every request as a bearer token, `ca` checks an https server.

    A token never goes over plain HTTP to another machine (TokenInClear): whoever sees it on the way could use
    it. apsisd itself serves plain HTTP on loopback only.
    """

    def __init__(self, address: Address, *, token: str | None = None, ca: Path | None = None,
                 timeout: float = TIMEOUT) -> None:
        if token and address.in_clear_off_host:
            secure = replace(address, scheme="https")
            raise TokenInClear(f"will not send the token over plain HTTP to {address}: anyone on the way could read "
                               f"it and use it; use {secure} (apsisd with tls_cert and tls_key), or reach apsisd on "
                               "loopback (an SSH tunnel to 127.0.0.1)")
        self.address = address
        self.token = token
        self.ca = ca
        self.timeout = timeout

    def get(self, path: str, query: Query = ()) -> Any:
        return self.call("GET", path, query).body

    def post(self, path: str, query: Query = (), body: Any = None) -> Any:
        return self.call("POST", path, query, body).body

    def call(self, method: str, path: str, query: Query = (), body: Any = None,
             accept: frozenset[int] = frozenset()) -> Reply:
        """The JSON answer of a 2xx, or of a status in `accept` (health's 503, reload's 422); errors raised."""
        with self._exchange(method, path, query, body, {}, self.timeout, accept) as response:
            data = self._read(response)
        try:
            return Reply(response.status, json.loads(data) if data else None)
        except ValueError:
            raise Unreachable(f"{self.address} answered {method} {path} with something that is not JSON; "
                              "is it apsisd?") from None

    @contextmanager
    def stream(self, path: str, query: Query = (), headers: Mapping[str, str] | None = None,
               timeout: float | None = None) -> Iterator[http.client.HTTPResponse]:
        """The open response of a GET whose body is read as it comes (output, events); `timeout` per read."""
        with self._exchange("GET", path, query, None, headers or {}, timeout, frozenset()) as response:
            yield response

    def chunks(self, response: http.client.HTTPResponse) -> Iterator[bytes]:
        """A streamed body's bytes as they come; a broken connection raised as Unreachable."""
        while True:
            with self.failures():
                chunk = response.read1(1 << 16)
            if not chunk:
                return
            yield chunk

    def lines(self, response: http.client.HTTPResponse) -> Iterator[str]:
        """A streamed text body's lines as they come (an event stream's); a broken connection raised."""
        while True:
            with self.failures():
                data = response.readline()
            if not data:
                return
            yield data.decode("utf-8", "replace")

    @contextmanager
    def _exchange(self, method: str, path: str, query: Query, body: Any, headers: Mapping[str, str],
                  timeout: float | None, accept: frozenset[int]) -> Iterator[http.client.HTTPResponse]:
        connection = self._connection(timeout)
        target = f"{self.address.prefix}{quote(path)}" + (f"?{urlencode(query)}" if query else "")
        sent = dict(headers)
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        try:
            with self.failures():
                connection.request(method, target, body=payload, headers=sent)
                response = connection.getresponse()
            if response.status >= 400 and response.status not in accept:
                raise self._refusal(response, f"{method} {path}")
            yield response
        finally:
            connection.close()

    @contextmanager
    def failures(self) -> Iterator[None]:
        """OS and HTTP errors while talking to apsisd (reading a stream too), as ApsisErrors that say what to do."""
        where = self.address
        try:
            yield
        except FileNotFoundError:
            raise Unreachable(f"apsisd is not running: no socket at {where.socket} ({where.start_hint})") from None
        except ConnectionRefusedError:
            what = f"nothing listens on {where.socket}" if where.socket else f"{where} refused the connection"
            raise Unreachable(f"apsisd is not running: {what} ({where.start_hint})") from None
        except PermissionError:
            raise NotAllowed(f"not allowed: cannot open {where.socket}: permission denied (ask to join the "
                             "group allowed to use apsis)") from None
        except ssl.SSLError as exc:
            raise Unreachable(f"cannot talk to apsisd at {where}: TLS: {exc.reason or exc} (give its CA with --ca "
                              "FILE)") from None
        except TimeoutError:
            raise Unreachable(f"apsisd at {where} did not answer in time") from None
        except (http.client.HTTPException, ConnectionError) as exc:
            raise Unreachable(f"lost the connection to apsisd at {where} ({_why(exc)})") from None
        except OSError as exc:
            raise Unreachable(f"cannot reach apsisd at {where}: {exc.strerror or exc}") from None

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        address = self.address
        if address.socket is not None:
            return UnixConnection(address.socket, timeout)
        if address.scheme == "https":
            context = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
            return http.client.HTTPSConnection(address.host, address.port, timeout=timeout, context=context)
        return http.client.HTTPConnection(address.host, address.port, timeout=timeout)

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        with self.failures():
            return response.read()

    def _refusal(self, response: http.client.HTTPResponse, request: str) -> ApsisError:
        """The error an error answer stands for: its JSON "error" text, or what HTTP says."""
        message = f"{self.address} answered {request} with {response.status} {response.reason}"
        try:
            body = json.loads(self._read(response))
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            message = body["error"]
        if response.status == 404 and message in (response.reason, "Not Found"):
            # No route, rather than no such run or job: the API's own 404s say what is missing.
            message = f"{self.address} does not know {request} (is apsisd older than this apsis?)"
        if response.status in (401, 403):
            return NotAllowed(f"not allowed: {message.removeprefix('not allowed: ')}")
        return ApiError(response.status, message)


def _why(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
