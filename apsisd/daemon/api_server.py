"""Serving the API on the configured addresses: Unix sockets, and TCP with bearer tokens and (off loopback) TLS.

A socket file left by an apsisd that was killed is replaced (only a socket:
never another kind of file). The socket is made with its final mode and
group (daemon/api_socket.py): only those the policy may answer can connect,
a peer with no right at all is turned away at accept (daemon/door.py), and
what each may do is decided per request from the peer's credentials
(api/access.py).
A TCP caller needs a token from the tokens file; the configuration refuses
a TCP address without one, and one other machines may reach without TLS.
"""
from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from apsisd.api.tokens import TokenStore
from apsisd.config.load import Config
from apsisd.daemon.api_socket import SocketAccess, bind_unix
from apsisd.daemon.door import Door
from apsisd.daemon.listener import Site, tcp_sockets
from apsisd.errors import ApsisError
from apsisd.owned_file import ownership_problem

log = logging.getLogger("apsisd.api")

BACKLOG = 1024  # connections the kernel queues for accept: a burst of clients waits rather than being refused


class ServeError(ApsisError):
    """The API cannot be served as configured: an address taken, a certificate or key unusable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpAccess:
    """What the TCP addresses need: the tokens (None: no tokens file) and the TLS context (None: plain HTTP)."""

    tokens: TokenStore | None
    tls: ssl.SSLContext | None


def tcp_access(config: Config) -> TcpAccess:
    """The tokens file read and the certificate loaded, before anything starts: ServeError, TokensError or
    InvalidFiles (the tokens file's bad lines) if either cannot be used."""
    tls = None
    if config.api_tls_cert is not None and config.api_tls_key is not None:
        tls = tls_context(config.api_tls_cert, config.api_tls_key)
    return TcpAccess(tokens=TokenStore(config.api_tokens) if config.api_tokens else None, tls=tls)


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server's TLS context (TLS 1.2 at least) from PEM files; ServeError naming the file that is wrong."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    texts, infos = {}, {}
    for path, what in ((cert, "certificate"), (key, "private key")):
        try:
            with path.open("rb") as file:
                infos[path] = os.fstat(file.fileno())
                texts[path] = file.read()
        except OSError as exc:
            raise ServeError(f"{path}: cannot read the API's TLS {what}: {exc.strerror}") from None
    # Whoever may read the key may pose as apsisd; whoever may write it, choose the key apsisd poses with.
    if problem := ownership_problem(key, infos[key], "the API's TLS private key", secret=True, euid=os.geteuid()):
        raise ServeError(problem)

    def no_password() -> str:
        raise ServeError(f"{key}: the API's TLS key is encrypted; apsisd needs it unencrypted (readable by apsisd "
                         "alone)")

    try:
        context.load_cert_chain(cert, key, password=no_password)
    except ssl.SSLError as exc:
        if b"-----BEGIN CERTIFICATE-----" not in texts[cert]:
            raise ServeError(f"{cert}: not a PEM certificate (tls_cert)") from None
        if b"PRIVATE KEY-----" not in texts[key]:
            raise ServeError(f"{key}: not a PEM private key (tls_key)") from None
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ServeError(f"{key}: not the private key of the certificate {cert}") from None
        raise ServeError(f"{cert}, {key}: the API's TLS certificate and key cannot be used: {exc}") from None
    return context


async def serve(app: web.Application, listen: tuple[str, ...], tls: ssl.SSLContext | None,
                socket_access: SocketAccess, door: Door) -> web.AppRunner:
    """Listening on every address of `listen` (TCP ones with `tls`, if given; sockets made with `socket_access`),
    each connection let in by `door`;
    ServeError if one cannot be served, then on none."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        for address in listen:
            await _listen(runner, address, tls, socket_access, door)
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio words a bind's error its own way
        raise ServeError(f"cannot serve the API on {address}: {reason}") from None
    return runner


async def _listen(runner: web.AppRunner, address: str, tls: ssl.SSLContext | None, socket_access: SocketAccess,
                  door: Door) -> None:
    scheme, _, rest = address.partition(":")
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        await Site(runner, await tcp_sockets(host.strip("[]"), int(port), BACKLOG), door, tls, address).start()
        log.info("API listening on %s (%s)", address, "TLS" if tls else "plain HTTP: loopback only",
                 extra={"action": "api_listening"})
        return
    sock = bind_unix(Path(rest), socket_access)
    sock.listen(BACKLOG)
    await Site(runner, [sock], door, None, address).start()
    log.info("API listening on %s", address, extra={"action": "api_listening"})
