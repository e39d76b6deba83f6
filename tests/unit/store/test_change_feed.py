"""The store's sequence numbers: every run written or deleted gets the next one, they survive reopening, and
changed_since gives what a client of the live stream missed."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from agentd.types import RunId
from apsisd.runs.model import transition
from apsisd.runs.state import State
from apsisd.store.base import Changes
from apsisd.store.migrate import available, migrate
from apsisd.store.sqlite import SqliteStore
from tests.unit.store.test_sqlite_store import T0, a_run, db, opened, run


def test_each_run_written_gets_the_next_sequence_number_in_commit_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        a, b, c = store.new_ids(3)
        assert store.next_seq == 1
        assert await store.commit(Changes(runs=[a_run(a), a_run(b)])) == 1
        assert await store.commit(Changes()) == 3  # nothing written: nothing used
        assert await store.commit(Changes(runs=[a_run(c)], deleted=[b])) == 3
        assert store.next_seq == 5
        assert await store.changed_since(0, 100) == [(1, a_run(a)), (3, a_run(c)), (4, b)]
        assert await store.changed_since(3, 100) == [(4, b)]
        assert await store.changed_since(4, 100) == []
        await store.close()
    run(scenario)


def test_a_run_written_again_is_listed_once_with_its_latest_number(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        a, b = store.new_ids(2)
        await store.commit(Changes(runs=[a_run(a), a_run(b)]))
        started, _ = transition(a_run(a), State.STARTING, T0)
        await store.commit(Changes(runs=[started]))
        assert await store.changed_since(0, 100) == [(2, a_run(b)), (3, started)]
        assert await store.changed_since(2, 100) == [(3, started)]
        await store.close()
    run(scenario)


def test_changed_since_pages_by_runs_and_keeps_deletions_in_their_place(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        ids = store.new_ids(5)
        await store.commit(Changes(runs=[a_run(ids[0]), a_run(ids[1])]))  # 1, 2
        await store.commit(Changes(deleted=[ids[0]]))  # 3
        await store.commit(Changes(runs=[a_run(ids[2]), a_run(ids[3])], deleted=[ids[1]]))  # 4, 5, 6
        # Two runs a page (r1 and r2 are gone: the numbers of their rows went with them), with the deletions
        # up to the last of them; the next page starts after it.
        assert await store.changed_since(0, 2) == [(3, ids[0]), (4, a_run(ids[2])), (5, a_run(ids[3]))]
        assert await store.changed_since(5, 2) == [(6, ids[1])]
        await store.close()
    run(scenario)


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
