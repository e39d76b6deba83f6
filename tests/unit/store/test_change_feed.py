"""SqliteStore's sequence numbers where they are its own: taken above every row whatever meta says, and a file
older than the feed migrated to it (what every store promises of them is in tests/contract/test_store.py)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from agentd.types import RunId
from apsisd.store.base import Changes
from apsisd.store.migrate import available, migrate
from apsisd.store.sqlite import SqliteStore
from tests.contract.test_store import a_run
from tests.unit.store.test_sqlite_store import db, opened, run


def test_sequence_numbers_go_on_after_reopening_and_a_crash_before_meta(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        a, b = store.new_ids(2)
        await store.commit(Changes(runs=[a_run(a), a_run(b)]))
        await store.close()
        conn = sqlite3.connect(db(tmp_path))
        conn.execute("UPDATE meta SET value = 1 WHERE key = 'next_seq'")  # as if meta had not kept up
        conn.commit()
        conn.close()
        store = await opened(tmp_path)
        assert store.next_seq == 3  # above every row's number, whatever meta says
        (c,) = store.new_ids(1)
        assert await store.commit(Changes(runs=[a_run(c)])) == 3
        await store.close()
    run(scenario)


def test_a_version_2_database_gets_the_feed_and_its_old_rows_number_zero(tmp_path: Path) -> None:
    path = db(tmp_path)
    path.parent.mkdir()
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, available()[:2])
    conn.execute("INSERT INTO runs (id, job_id, args, state, schedule_time, times, origin, attempt, reason, updated)"
                 " VALUES (7, 'j', '{}', 'failure', 0, '{}', 'schedule', 1, '', 0)")
    conn.close()

    async def scenario() -> None:
        store = await SqliteStore.open(path)
        assert store.next_seq == 1
        assert [number for number, _ in await store.changed_since(-1, 10)] == [0]
        assert await store.changed_since(0, 10) == []
        (new,) = store.new_ids(1)
        assert await store.commit(Changes(runs=[a_run(new)])) == 1
        assert [change for _, change in await store.changed_since(0, 10)] == [a_run(new)]
        assert RunId("r7") not in [getattr(change, "id", None) for _, change in await store.changed_since(0, 10)]
        await store.close()
    run(scenario)
