"""The sessions file: hashes only, 0600, replaced whole; read back by a new store (apsisd restarted), ended sessions
dropped; a file others could have written, or that is not one, set aside and never trusted."""
from __future__ import annotations

import json
import logging
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from apsisd.api.sessions import SessionStore
from apsisd.rights import Right
from apsisd.tokens_file import Token, digest
from tests.unit.scheduler.fake_clock import SetClock
from tests.unit.scheduler.rig import START

OPS = Token(name="ops", right=Right.OPERATE, line=1)
HOUR = 3600.0


def test_a_session_is_kept_by_its_hash_and_read_back(tmp_path: Path) -> None:
    clock, path = SetClock(START), tmp_path / "sessions.json"
    store = SessionStore(path, HOUR, clock.now)
    session_id, session = store.begin(digest("t0ken"), OPS)
    assert len(session_id) == 43 and session.ends - session.began == HOUR
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert session_id not in text and "t0ken" not in text and session.key in text
    assert [each.name for each in tmp_path.iterdir()] == ["sessions.json"]  # no temporary file left

    again = SessionStore(path, HOUR, clock.now)
    assert again.find(session_id) == session
    assert again.find(session_id + "x") is None and again.find("") is None
    assert again.end(session_id) == session and again.find(session_id) is None
    assert SessionStore(path, HOUR, clock.now).find(session_id) is None  # the end is kept too


def test_sessions_end_at_their_time_and_sooner_when_the_lifetime_is_made_shorter(tmp_path: Path) -> None:
    clock, path = SetClock(START), tmp_path / "sessions.json"
    store = SessionStore(path, HOUR, clock.now)
    first, _ = store.begin(digest("a"), OPS)
    clock.at += timedelta(minutes=30)
    second, _ = store.begin(digest("a"), OPS)
    assert SessionStore(path, 20 * 60.0, clock.now).find(second) is not None
    shorter = SessionStore(path, 20 * 60.0, clock.now)  # restarted with [web] session_lifetime = "20m"
    assert shorter.find(first) is None and len(shorter) == 1
    clock.at += timedelta(minutes=30)
    assert store.find(first) is None and store.find(second) is not None
    clock.at += timedelta(minutes=30)
    assert store.find(second) is None and len(store) == 0
    assert json.loads(path.read_text())["sessions"] == []


def test_the_oldest_session_goes_first(tmp_path: Path) -> None:
    clock = SetClock(START)
    store = SessionStore(tmp_path / "sessions.json", HOUR, clock.now, limit=2)
    ids = []
    for _ in range(3):
        ids.append(store.begin(digest("a"), OPS)[0])
        clock.at += timedelta(seconds=1)
    assert [store.find(each) is not None for each in ids] == [False, True, True]


@pytest.mark.parametrize(("content", "mode", "why"), [
    (None, 0o644, "may be read by anyone"),
    (None, 0o660, "may be written by its group"),
    (None, 0o640, "may be read or written by its group"),
    ("not json", 0o600, "not a sessions file apsisd wrote"),
    ('{"format": 1, "sessions": [{"key": "x"}]}', 0o600, "not a sessions file apsisd wrote"),
    ('{"format": 2, "sessions": []}', 0o600, "not a sessions file apsisd wrote"),
])
def test_a_file_that_cannot_be_trusted_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                    content: str | None, mode: int, why: str) -> None:
    clock, path = SetClock(START), tmp_path / "sessions.json"
    session_id, _ = SessionStore(path, HOUR, clock.now).begin(digest("a"), OPS)
    if content is not None:
        path.write_text(content)
    path.chmod(mode)
    with caplog.at_level(logging.ERROR):
        store = SessionStore(path, HOUR, clock.now)
    assert store.find(session_id) is None and len(store) == 0
    assert [record.getMessage() for record in caplog.records if why in record.getMessage()], caplog.text
    assert (tmp_path / "sessions.json.bad").exists() and not path.exists()
    store.begin(digest("a"), OPS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # made anew, apsisd's own


def test_in_memory_only_without_a_file() -> None:
    clock = SetClock(START)
    store = SessionStore(None, HOUR, clock.now)
    session_id, session = store.begin(digest("a"), OPS)
    assert store.find(session_id) == session
