"""The web page's sessions: who signed in with a token, until when, and the form token their requests must carry.

A browser over TCP signs in once with an API token (web/sign_in.py) and is
given a cookie holding a session id: 256 random bits, like a token, so a
fast hash is right here too. Only that hash is kept, with the token's own
hash (the session lasts only while the tokens file holds it: deleting the
line ends its sessions at once), its name and right as they were at sign-in,
the session's CSRF token, and when it began and ends. Sessions end at their
time ([web] session_lifetime after sign-in: no sliding renewal), at sign-out,
or when their token goes; at most MAX_SESSIONS live at once, the oldest
dropped first, so sign-ins cannot fill memory or the disk.

They are kept in a small file in the state folder (0600, replaced whole
and atomically), so that the page reconnects after apsisd restarts without a
new sign-in. The file names no session id: someone who reads it cannot use
it. Someone who could write it could forge a session for any token whose
hash they know (the tokens file may be readable), so it is read only when
it belongs to root or apsisd's user and no one else may read or write it;
otherwise, or when it cannot be read as a sessions file, it is set aside,
logged, and every session begins anew (an operator signs in again; nobody
is let in).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from apsisd.owned_file import ownership_problem
from apsisd.rights import Right
from apsisd.tokens_file import RIGHTS, Digest, Token

log = logging.getLogger("apsisd.api")

MAX_SESSIONS = 1000  # live sessions at once; the file is then some 300 KB
MAX_FILE = 4 << 20  # bytes: a sessions file larger than this is not one apsisd wrote
FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One signed-in browser. `key`: the hash of its id (the cookie's value); `token`: its token's hash."""

    key: str
    token: Digest
    name: str
    right: Right
    csrf: str
    began: float  # seconds since the epoch
    ends: float


class SessionStore:
    """The live sessions, as the sessions file holds them; `now` is the clock (the wall clock's `now` in apsisd).

    `path` None: kept in memory only (a test's, or an apsisd whose state folder cannot take the file)."""

    def __init__(self, path: Path | None, lifetime: float, now: Callable[[], datetime],
                 limit: int = MAX_SESSIONS) -> None:
        self.path = path
        self.lifetime = lifetime
        self.limit = limit
        self._now = now
        self._sessions: dict[str, Session] = {}
        if path is not None:
            self._sessions = _read(path)
            if self._drop_ended():
                self._save()

    def __len__(self) -> int:
        return len(self._sessions)

    def begin(self, token: Digest, holder: Token) -> tuple[str, Session]:
        """A new session for the holder of the token whose hash is `token`: its id (for the cookie, never kept)
        and the session. The oldest is dropped when the store is full."""
        now = self._time()
        session_id = secrets.token_urlsafe(32)
        session = Session(key=_key(session_id), token=token, name=holder.name, right=holder.right,
                          csrf=secrets.token_urlsafe(32), began=now, ends=now + self.lifetime)
        self._drop_ended()
        while len(self._sessions) >= self.limit:
            oldest = min(self._sessions.values(), key=lambda each: each.began)
            del self._sessions[oldest.key]
            log.info("web: the oldest session (token %s) ended: %d sessions are live, the most there may be",
                     oldest.name, self.limit, extra={"action": "session_dropped"})
        self._sessions[session.key] = session
        self._save()
        return session_id, session

    def find(self, session_id: str) -> Session | None:
        """The live session of `session_id`; None for one unknown or ended (an ended one is dropped)."""
        key = _key(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        if self._time() >= min(session.ends, session.began + self.lifetime):  # a lifetime made shorter counts
            self.end(session_id)
            return None
        return session

    def end(self, session_id: str) -> Session | None:
        """End the session of `session_id` (sign-out, a revoked token): the session it was, or None."""
        session = self._sessions.pop(_key(session_id), None)
        if session is not None:
            self._save()
        return session

    def _time(self) -> float:
        return self._now().timestamp()

    def _drop_ended(self) -> bool:
        now = self._time()
        ended = [key for key, session in self._sessions.items()
                 if now >= min(session.ends, session.began + self.lifetime)]
        for key in ended:
            del self._sessions[key]
        return bool(ended)

    def _save(self) -> None:
        """The file replaced whole (a new file, 0600, renamed over it): a crash leaves the old or the new one. A
        file that cannot be written is logged; the sessions live on in memory until apsisd stops."""
        if self.path is None:
            return
        text = json.dumps({"format": FORMAT, "sessions": [_jso(session) for session in self._sessions.values()]})
        try:
            _replace(self.path, text.encode())
        except OSError as exc:
            log.error("web: cannot write the sessions file %s: %s; sessions will not outlive this apsisd",
                      self.path, exc.strerror, extra={"action": "sessions_unwritable"})


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _jso(session: Session) -> dict[str, Any]:
    return {"key": session.key, "token": session.token.hex(), "name": session.name, "right": session.right.word,
            "csrf": session.csrf, "began": session.began, "ends": session.ends}


def _session(item: Any) -> Session:
    """One session of the file; ValueError, KeyError or TypeError if it is not one."""
    key, token = str(item["key"]), bytes.fromhex(item["token"])
    if len(key) != 64 or len(token) != 32:
        raise ValueError("not a session")
    return Session(key=key, token=token, name=str(item["name"]), right=RIGHTS[item["right"]], csrf=str(item["csrf"]),
                   began=float(item["began"]), ends=float(item["ends"]))


def _read(path: Path) -> dict[str, Session]:
    """The sessions of the file at `path`; none when there is no file, or one that cannot be trusted or read
    (logged, and set aside as PATH.bad for whoever wants to look)."""
    try:
        with path.open("rb") as file:
            info = os.fstat(file.fileno())
            data = file.read(MAX_FILE + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.error("web: cannot read the sessions file %s: %s; every browser signs in again", path, exc.strerror,
                  extra={"action": "sessions_unreadable"})
        return {}
    problem = None if stat.S_ISREG(info.st_mode) else f"{path}: the sessions file is not a file"
    # Whoever may write it could make a session for any token; whoever may read it, take no id (it holds hashes),
    # but the forms' tokens: it is apsisd's alone.
    problem = problem or ownership_problem(path, info, "the web page's sessions file", secret=True, euid=os.geteuid())
    if problem is None and stat.S_IMODE(info.st_mode) & stat.S_IRWXG:
        problem = f"{path}: the web page's sessions file may be read or written by its group; apsisd makes it 0600"
    if problem is None:
        try:
            parsed = json.loads(data) if len(data) <= MAX_FILE else None
            if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
                raise ValueError("not a sessions file")
            sessions = [_session(item) for item in parsed["sessions"]]
            return {session.key: session for session in sessions}
        except (ValueError, KeyError, TypeError, AttributeError):
            problem = f"{path}: not a sessions file apsisd wrote"
    log.error("%s; it is set aside as %s.bad, and every browser signs in again", problem, path.name,
              extra={"action": "sessions_unreadable"})
    with contextlib.suppress(OSError):
        path.replace(path.with_name(path.name + ".bad"))
    return {}


def _replace(path: Path, data: bytes) -> None:
    """`path` replaced by a file holding `data`, 0600, written and synced before it is renamed over the old."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
