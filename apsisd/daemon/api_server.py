"""Serving the API on the configured addresses: the Unix sockets now; TCP needs bearer tokens, not here yet.

A socket file left by an apsisd that was killed is replaced (only a socket:
never another kind of file). The socket is open to all (0666): who may do
what is decided per request from the peer's credentials (api/access.py).
"""
from __future__ import annotations

import inspect
import logging
import os
import stat
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger("apsisd.api")
# A handler is cancelled when its client goes away, as aiohttp 3.8 (Debian 12's) always did and 3.9 made an option
# (off by default): a followed output would otherwise keep reading the journal for nobody until its next write.
_CANCEL_ON_DISCONNECT: dict[str, Any] = (
    {"handler_cancellation": True} if "handler_cancellation" in inspect.signature(web.Server).parameters else {}
)


def _make_room(path: Path) -> None:
    """The socket's folder made, and a socket left by an apsisd that did not stop cleanly removed."""
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    if path.exists() and stat.S_ISSOCK(path.lstat().st_mode):
        path.unlink()


async def serve(app: web.Application, listen: tuple[str, ...]) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, **_CANCEL_ON_DISCONNECT)
    await runner.setup()
    for address in listen:
        if not address.startswith("unix:"):
            log.warning("API: not listening on %s: TCP needs bearer tokens and TLS, which this apsisd does not "
                        "have yet", address, extra={"action": "api_not_listening"})
            continue
        path = Path(address.removeprefix("unix:"))
        _make_room(path)
        await web.UnixSite(runner, str(path)).start()
        os.chmod(path, 0o666)
        log.info("API listening on %s", address, extra={"action": "api_listening"})
    return runner
