"""migrate: shipped migrations in order, each in its own transaction, a newer file refused, a non-database named."""
from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from agentd.types import RunId
from apsisd.errors import StoreError
from apsisd.runs.state import State
from apsisd.store.base import Changes
from apsisd.store.migrate import Migration, available, current_version, migrate
from apsisd.store.sqlite import SqliteStore

T = TypeVar("T")
LATEST = len(available())


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(10):
            return await scenario()
    return asyncio.run(bounded())


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}


def add_column(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE runs ADD COLUMN extra_note TEXT")
    conn.execute("UPDATE meta SET value = value + 1000 WHERE key = 'next_run'")


def half_done(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE half (x)")
    conn.execute("INSERT INTO nowhere VALUES (1)")


EXTRA_SQL = Migration(version=LATEST + 1, name="m_extra_sql", doc="Adds a table.",
                      sql="CREATE TABLE labels (run_id INTEGER, label TEXT);")
EXTRA_APPLY = Migration(version=LATEST + 2, name="m_extra_apply", doc="Adds a column.", apply=add_column)


def test_shipped_migrations_are_numbered_and_documented() -> None:
    migrations = available()
    assert [m.version for m in migrations] == list(range(1, LATEST + 1))
    assert migrations[0].name == "m0001_initial"
    assert all(m.doc.strip() and (m.sql is None) != (m.apply is None) for m in migrations)


def test_a_new_file_gets_every_migration(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    assert migrate(conn, tmp_path / "db", available()) == LATEST == current_version(conn)
    assert {"runs", "run_log", "cursors", "meta", "runs_job", "runs_instance", "runs_unfinished"} <= tables(conn)
    assert conn.execute("SELECT value FROM meta WHERE key = 'next_run'").fetchone() == (1,)
    assert migrate(conn, tmp_path / "db", available()) == LATEST  # nothing left to do


def test_injected_migrations_apply_in_order_once(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    migrate(conn, tmp_path / "db", available())
    assert migrate(conn, tmp_path / "db", [*available(), EXTRA_SQL, EXTRA_APPLY]) == LATEST + 2
    assert "labels" in tables(conn)
    assert "extra_note" in [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
    assert conn.execute("SELECT value FROM meta WHERE key = 'next_run'").fetchone() == (1001,)
    assert migrate(conn, tmp_path / "db", [*available(), EXTRA_SQL, EXTRA_APPLY]) == LATEST + 2
    assert conn.execute("SELECT value FROM meta WHERE key = 'next_run'").fetchone() == (1001,)  # not run twice


@pytest.mark.parametrize("broken", [
    Migration(version=LATEST + 2, name="m_bad_sql", doc="Half of it fails.",
              sql="CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);"),
    Migration(version=LATEST + 2, name="m_bad_apply", doc="Half of it fails.", apply=half_done),
])
def test_a_failing_migration_leaves_the_version_before_it_whole(tmp_path: Path, broken: Migration) -> None:
    conn = connect(tmp_path / "db")
    with pytest.raises(StoreError, match=rf"migration {LATEST + 2} \({broken.name}\) failed: .*nowhere.*"
                                         rf"stays at version {LATEST + 1}") as caught:
        migrate(conn, tmp_path / "db", [*available(), EXTRA_SQL, broken])
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert current_version(conn) == LATEST + 1
    assert "labels" in tables(conn) and "half" not in tables(conn)
    assert not conn.in_transaction


def test_a_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state" / "apsis.db"
    run(lambda: _open_close(path))
    migrate(connect(path), path, [*available(), EXTRA_SQL])
    before = path.read_bytes()
    with pytest.raises(StoreError, match=rf"{path}: the database has schema version {LATEST + 1}, but this apsis "
                                         rf"knows versions up to {LATEST} only.*Upgrade apsis"):
        run(lambda: SqliteStore.open(path))
    assert path.read_bytes() == before


def test_a_file_that_is_no_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "apsis.db"
    path.write_text("jobs: these are not the runs you are looking for\n" * 100)
    with pytest.raises(StoreError, match=rf"{path} is not an SQLite database, or it is damaged .*move it away"):
        run(lambda: SqliteStore.open(path))


def test_a_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "apsis.db"
    with pytest.raises(StoreError, match=rf"{path}: cannot open it"):
        run(lambda: SqliteStore.open(path))


async def _open_close(path: Path) -> None:
    await (await SqliteStore.open(path)).close()


def test_a_version_1_database_with_runs_is_migrated_to_owe_actions(tmp_path: Path) -> None:
    """The real upgrade path: a file written by the first schema, with a run in it, opened by today's store."""
    path = tmp_path / "state" / "apsis.db"
    path.parent.mkdir()
    conn = connect(path)
    migrate(conn, path, available()[:1])
    conn.execute("INSERT INTO runs (id, job_id, args, state, schedule_time, times, origin, attempt, reason, updated)"
                 " VALUES (7, 'j', '{}', 'failure', 0, '{}', 'schedule', 1, '', 0)")
    conn.close()

    async def scenario() -> list[tuple[str, str, frozenset[int]]]:
        store = await SqliteStore.open(path)
        try:
            await store.commit(Changes(actions_owed=[(RunId("r7"), State.FAILURE)]))
            await store.commit(Changes(actions_ran=[(RunId("r7"), State.FAILURE, 1)]))
            owed = [(str(run), str(state), ran) for run, state, ran in await store.actions_owed()]
            await store.commit(Changes(actions_done=[(RunId("r7"), State.FAILURE)]))
            assert await store.actions_owed() == []
            await store.commit(Changes(actions_owed=[(RunId("r7"), State.FAILURE)]))  # crossed off with its marks
            assert await store.actions_owed() == [(RunId("r7"), State.FAILURE, frozenset())]
            return owed
        finally:
            await store.close()

    assert run(scenario) == [("r7", "failure", frozenset({1}))]
    assert current_version(connect(path)) == LATEST >= 2


def test_the_runs_of_a_version_4_database_that_started_ran_on_the_local_host(tmp_path: Path) -> None:
    """Before remote hosts, every run that reached starting ran on apsisd's own: it is followed there after the
    upgrade. A run not yet started has no host: its job's host: decides when it starts."""
    path = tmp_path / "state" / "apsis.db"
    path.parent.mkdir()
    conn = connect(path)
    migrate(conn, path, available()[:4])
    for number, state, times in ((1, "running", '{"scheduled": 0, "starting": 1, "running": 2}'),
                                 (2, "scheduled", '{"scheduled": 0}'),
                                 (3, "success", '{"starting": 1, "success": 3}')):
        conn.execute("INSERT INTO runs (id, job_id, args, state, schedule_time, times, origin, attempt, reason, "
                     f"updated) VALUES ({number}, 'j', '{{}}', '{state}', 0, '{times}', 'schedule', 1, '', 0)")
    conn.commit()
    conn.close()

    async def scenario() -> list[str | None]:
        store = await SqliteStore.open(path)
        try:
            return [(await store.get(RunId(f"r{number}"))).host for number in (1, 2, 3)]
        finally:
            await store.close()

    assert run(scenario) == ["local", None, "local"]
    assert current_version(connect(path)) == LATEST >= 5
