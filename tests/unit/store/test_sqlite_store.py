"""SqliteStore over a real SQLite file, what is its own: the file, the indexes the queries take, group commit,
the loop free while SQLite waits, a kill -9. What every store promises is in tests/contract/test_store.py."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agentd.types import JobId, RunId
from apsisd.errors import StoreError
from apsisd.runs.model import LogEntry, Origin
from apsisd.runs.state import FINISHED, State
from apsisd.store import query as query_module
from apsisd.store import sqlite as sqlite_module
from apsisd.store.base import Changes, RunQuery
from apsisd.store.migrate import available
from apsisd.store.query import runs_plan, runs_sql
from apsisd.store.sqlite import SqliteStore
from tests.contract.test_store import T0, a_run, mixed_history

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]


def run(scenario: Callable[[], Awaitable[T]], timeout: float = 10) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await scenario()
    return asyncio.run(bounded())


def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "apsis.db"


async def opened(tmp_path: Path) -> SqliteStore:
    return await SqliteStore.open(db(tmp_path))


def test_open_makes_the_folder_and_a_wal_database(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        await store.close()
    umask = os.umask(0)
    os.umask(umask)
    run(scenario)
    assert db(tmp_path).parent.stat().st_mode & 0o777 == 0o750 & ~umask
    conn = sqlite3.connect(db(tmp_path))
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_connection_syncs_every_commit_to_disk(tmp_path: Path) -> None:
    """synchronous=FULL (2): what is committed survives a power loss, not only a kill -9."""
    tmp_path.joinpath("state").mkdir()
    conn, _ = sqlite_module._connect(db(tmp_path), available())
    try:
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)
    finally:
        conn.close()


def test_a_deleted_runs_log_leaves_the_file(tmp_path: Path) -> None:
    """Its rows go with it (ON DELETE CASCADE), not merely out of sight: the contract checks what is seen."""
    async def scenario() -> None:
        store = await opened(tmp_path)
        keep, drop = store.new_ids(2)
        await store.commit(Changes(runs=[a_run(keep), a_run(drop)],
                                   log=[LogEntry(run_id=rid, time=T0, message="made") for rid in (keep, drop)]))
        await store.commit(Changes(deleted=[drop]))
        await store.close()
    run(scenario)
    assert sqlite3.connect(db(tmp_path)).execute("SELECT run_id FROM run_log").fetchall() == [(1,)]


@pytest.mark.parametrize(("query", "index"), [
    (RunQuery(job_id=JobId("j")), "runs_job"),
    (RunQuery(job_id=JobId("j"), states=frozenset({State.FAILURE, State.ERROR})), "runs_job"),
    (RunQuery(job_id=JobId("j"), states=frozenset({State.FAILURE})), "runs_job"),
    (RunQuery(job_id=JobId("j"), args={"a": "1"}, exact_args=True, states=frozenset({State.SUCCESS})),
     "runs_instance"),
    (RunQuery(job_id=JobId("j"), order="time"), "runs_job_time"),
    (RunQuery(states=frozenset({State.FAILURE})), "runs_state_time"),
    (RunQuery(states=frozenset({State.RUNNING})), "runs_state"),
    (RunQuery(states=frozenset({State.RUNNING}), order="time"), "runs_state_time"),
    (RunQuery(since=T0, until=T0 + timedelta(days=1)), "runs_schedule_time"),
    (RunQuery(job_prefix="etl/"), "runs_job_time"),
    (RunQuery(job_prefix="etl", order="time"), "runs_job_time"),
    (RunQuery(job_ids=frozenset({JobId("a"), JobId("b")})), "runs_job_time"),
    (RunQuery(job_ids=frozenset({JobId("a"), JobId("b")}), job_id=JobId("a"),
              states=frozenset({State.SUCCESS})), "runs_job"),
    (RunQuery(job_ids=frozenset({JobId("a"), JobId("b")}), states=frozenset({State.RUNNING})), "runs_state"),
    (RunQuery(changed_since=T0, changed_until=T0 + timedelta(hours=1)), "runs_updated"),
    (RunQuery(job_id=JobId("j"), changed_since=T0, changed_until=T0 + timedelta(hours=1)), "runs_job"),
    (RunQuery(job_id=JobId("j"), changed_since=T0), "runs_job"),
    (RunQuery(job_prefix="etl/", since=T0), "runs_job_time"),
    (RunQuery(states=frozenset({State.RUNNING}), changed_since=T0), "runs_state"),
    (RunQuery(hosts=frozenset({"db1"}), states=frozenset({State.SUCCESS})), "runs_host"),
    (RunQuery(hosts=frozenset({"local"}), states=frozenset({State.FAILURE})), "runs_state_time"),
    (RunQuery(origins=frozenset({Origin.ADHOC}), hosts=frozenset({"db1"})), "runs_origin"),
    (RunQuery(origins=frozenset({Origin.SCHEDULE}), order="time"), "runs_origin"),
    (RunQuery(order="time"), "runs_schedule_time"),
])
def test_queries_use_their_indexes(tmp_path: Path, query: RunQuery, index: str) -> None:
    """The driven query takes the driver's index, and reads rows only for the page (their ids found first)."""
    run(lambda: _open_close(tmp_path))
    found = runs_sql(query)
    assert found is not None
    plan = " ".join(row[3] for row in sqlite3.connect(db(tmp_path)).execute(f"EXPLAIN QUERY PLAN {found[0]}",
                                                                            found[1]))
    assert f"INDEX {index} " in f"{plan} ", plan


@pytest.mark.parametrize("order", ["id", "time"])
def test_the_walk_follows_the_order_and_its_edge_reads_an_index_alone(tmp_path: Path, order: str) -> None:
    """By id the walk reads the table by its ids; by time it follows runs_schedule_time. The edge (where the
    walk stops) is found in the index alone, before any row is read."""
    run(lambda: _open_close(tmp_path))
    conn = sqlite3.connect(db(tmp_path))
    plan = runs_plan(RunQuery(hosts=frozenset({"local"}), states=frozenset({State.SUCCESS}), before=RunId("r9"),
                              order=order), 0)  # type: ignore[arg-type]
    assert plan is not None and plan.walks
    edge = plan.edge()
    assert edge is not None
    walk, edge_plan = (" ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
                       for sql, params in (plan.walk((0, 1) if order == "time" else (1,)), edge))
    if order == "id":
        assert "USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in walk and "INDEX" not in walk, walk
        assert "INTEGER PRIMARY KEY" in edge_plan, edge_plan
    else:
        assert "INDEX runs_schedule_time (" in walk and "TEMP B-TREE" not in walk, walk
        assert "COVERING INDEX runs_schedule_time" in edge_plan, edge_plan


def test_unfinished_uses_its_partial_index_which_names_the_finished_states(tmp_path: Path) -> None:
    run(lambda: _open_close(tmp_path))
    sql = f"SELECT id FROM runs WHERE {sqlite_module._UNFINISHED} ORDER BY id"
    conn = sqlite3.connect(db(tmp_path))
    assert "runs_unfinished" in conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchone()[3]
    (index_sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'runs_unfinished'").fetchone()
    named = set(re.findall(r"'(\w+)'", index_sql))
    assert named == {str(state) for state in FINISHED}, "a new finished state needs a migration of the index"


def test_finished_ahead_walks_the_index_of_schedule_time(tmp_path: Path) -> None:
    run(lambda: _open_close(tmp_path))
    plan = " ".join(row[3] for row in sqlite3.connect(db(tmp_path)).execute(
        f"EXPLAIN QUERY PLAN {sqlite_module._FINISHED_AHEAD}", (0,)))
    assert "INDEX runs_schedule_time " in plan, plan


def test_concurrent_commits_are_grouped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> int:
        store = await opened(tmp_path)
        transactions = 0
        write = store._write

        def counted(batch: list[Any]) -> Any:
            nonlocal transactions
            transactions += 1
            return write(batch)
        monkeypatch.setattr(store, "_write", counted)
        ids = store.new_ids(500)
        async with asyncio.TaskGroup() as tg:
            for rid in ids:
                tg.create_task(store.commit(Changes(runs=[a_run(rid)], log=[LogEntry(run_id=rid, time=T0,
                                                                                     message="made")])),
                               name=f"commit:{rid}")
        assert len(await store.unfinished()) == len(ids)
        await store.close()
        return transactions
    transactions = run(scenario)
    assert 1 <= transactions < 50  # 500 commits: the first alone, the rest together (as many as arrived meanwhile)


def test_a_bad_commit_grouped_with_others_fails_alone(tmp_path: Path) -> None:
    """In one transaction with others: each commit is tried again in a savepoint, so only the bad ones fail."""
    async def scenario() -> None:
        store = await opened(tmp_path)
        first, good, bad1, bad2, other, late = store.new_ids(6)
        bad_log = Changes(runs=[a_run(bad1)], log=[LogEntry(run_id=RunId("r999"), time=T0, message="orphan")])
        naive = Changes(runs=[a_run(bad2), a_run(other, stop_time=datetime(2026, 1, 1))])
        blocker = sqlite3.connect(db(tmp_path), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # holds the store's thread, so the next commits meet in one batch
        commits = [asyncio.create_task(store.commit(changes)) for changes in (
            Changes(runs=[a_run(first)]), Changes(runs=[a_run(good)]), bad_log, naive,
            Changes(runs=[a_run(late)], log=[LogEntry(run_id=good, time=T0, message="after the bad ones")]))]
        await asyncio.sleep(0)
        blocker.execute("ROLLBACK")
        results = await asyncio.gather(*commits, return_exceptions=True)
        assert results[:2] == [1, 2] and results[4] == 6  # sequence numbers: the failed ones' are never used
        assert isinstance(results[2], StoreError) and isinstance(results[2].__cause__, sqlite3.IntegrityError)
        assert "not written" in str(results[2]) and str(db(tmp_path)) in str(results[2])
        assert isinstance(results[3], StoreError) and "stop_time is a naive datetime" in str(results[3])
        await store.close()
        store = await opened(tmp_path)
        assert [r.id for r in await store.unfinished()] == [first, good, late]
        assert [e.message for e in await store.log(good)] == ["after the bad ones"]
        await store.close()
    run(scenario)


def test_a_failed_transaction_fails_every_commit_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT", 0.05)

    async def scenario() -> None:
        store = await opened(tmp_path)
        ids = store.new_ids(3)
        blocker = sqlite3.connect(db(tmp_path), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the busy timeout
        results = await asyncio.gather(*(store.commit(Changes(runs=[a_run(rid)])) for rid in ids),
                                       return_exceptions=True)
        assert all(isinstance(r, StoreError) and "database is locked" in str(r) for r in results), results
        blocker.execute("ROLLBACK")
        assert await store.unfinished() == []
        await store.commit(Changes(runs=[a_run(ids[0])]))  # usable again
        assert [r.id for r in await store.unfinished()] == [ids[0]]
        await store.close()
    run(scenario)


def test_the_loop_runs_while_sqlite_waits(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        (rid,) = store.new_ids(1)
        blocker = sqlite3.connect(db(tmp_path), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        commit = asyncio.create_task(store.commit(Changes(runs=[a_run(rid)])))
        ticks = 0
        while ticks < 200:  # the heartbeat: the loop keeps turning while the store's thread is stuck
            await asyncio.sleep(0)
            ticks += 1
        assert not commit.done()
        blocker.execute("COMMIT")
        await commit
        assert (await store.get(rid)).id == rid
        await store.close()
    run(scenario)


def test_closing_folds_the_wal_in(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        (rid,) = store.new_ids(1)
        await store.commit(Changes(runs=[a_run(rid)]))
        assert db(tmp_path).with_name("apsis.db-wal").exists()
        await store.close()
    run(scenario)
    assert not db(tmp_path).with_name("apsis.db-wal").exists()


CRASH = textwrap.dedent("""
    import asyncio, os, signal, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from apsisd.runs.model import Run
    from apsisd.store.base import Changes
    from apsisd.store.sqlite import SqliteStore

    async def main():
        store = await SqliteStore.open(Path(sys.argv[1]))
        ids = store.new_ids(10)
        t = datetime(2026, 1, 1, tzinfo=UTC)
        await store.commit(Changes(runs=[Run(id=i, job_id="j", schedule_time=t) for i in ids[:5] + ids[7:8]]))
        store.new_ids(5)  # handed out, never committed
        print(" ".join(ids[:5] + ids[7:8]), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
""")


def test_a_killed_process_loses_no_commit_and_no_number_is_given_twice(tmp_path: Path) -> None:
    path = db(tmp_path)
    child = subprocess.run([sys.executable, "-c", CRASH, str(path)], capture_output=True, text=True, timeout=30,
                           cwd=ROOT)
    assert child.returncode == -signal.SIGKILL, child.stderr
    committed = child.stdout.split()
    assert committed == ["r1", "r2", "r3", "r4", "r5", "r8"]
    assert path.with_name("apsis.db-wal").exists()  # not closed: the commits are in the WAL only

    async def scenario() -> None:
        store = await SqliteStore.open(path)
        assert [r.id for r in await store.unfinished()] == committed
        fresh = store.new_ids(3)
        assert min(int(rid[1:]) for rid in fresh) > 8 and not set(fresh) & set(committed)
        await store.close()
    run(scenario)


async def _open_close(tmp_path: Path) -> None:
    await (await opened(tmp_path)).close()



DRIVEN = [
    RunQuery(args={"region": "eu"}), RunQuery(args={"region": "eu"}, states=frozenset({State.SUCCESS})),
    RunQuery(args={"region": "eu"}, since=T0 + timedelta(minutes=3), before=RunId("r9")),
    RunQuery(args={"region": "eu"}, job_prefix="etl"), RunQuery(args={"region": "eu", "a": "1"}),
    RunQuery(args={"region": "eu"}, job_ids=frozenset({JobId("etl"), JobId("etla")}), hosts=frozenset({"db2"})),
    RunQuery(states=frozenset({State.FAILURE})), RunQuery(states=frozenset({State.SUCCESS, State.RUNNING})),
    RunQuery(hosts=frozenset({"db1", "db2"})), RunQuery(hosts=frozenset({"local"}), before=RunId("r11")),
    RunQuery(origins=frozenset({Origin.MANUAL, Origin.RERUN})), RunQuery(origins=frozenset({Origin.SCHEDULE})),
    RunQuery(job_prefix="etl"), RunQuery(job_prefix="etl/", states=frozenset({State.FAILURE})),
    RunQuery(job_ids=frozenset({JobId("etl"), JobId("etla")}), before=RunId("r12")),
    RunQuery(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=8)),
    RunQuery(until=T0 + timedelta(minutes=6), before=RunId("r10")), RunQuery(since=T0 + timedelta(minutes=4)),
    RunQuery(until=T0 + timedelta(minutes=2)), RunQuery(until=T0 + timedelta(minutes=4), before=RunId("r9")),
    RunQuery(until=T0 + timedelta(minutes=2), states=frozenset({State.SUCCESS})),
    RunQuery(changed_since=T0), RunQuery(changed_until=T0 + timedelta(days=3650), before=RunId("r8")),
]


@pytest.mark.parametrize("order", ["id", "time"])
@pytest.mark.parametrize("query", DRIVEN)
def test_the_driven_query_answers_as_the_walk_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   query: RunQuery, order: str) -> None:
    """With a walk of one row the driven query answers (through its index, run_args for args): the same runs as
    a walk of the whole table, in the same order, for every driver, first page and after one."""
    async def scenario() -> dict[int, list[RunId]]:
        store = await opened(tmp_path)
        await mixed_history(store)
        found = {}
        for walk in (10**9, 1):
            monkeypatch.setattr(query_module, "WALK", walk)
            found[walk] = [run.id for run in await store.runs(replace(query, order=order, limit=3))]  # type: ignore
        await store.close()
        return found
    found = run(scenario)
    assert found[1] == found[10**9]
