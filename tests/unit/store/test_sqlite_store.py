"""SqliteStore over a real SQLite file: round trips, every query filter, group commit, atomicity, ids, the loop free."""
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.errors import StoreError, UnknownRun
from apsisd.runs.model import LogEntry, Origin, Run, transition
from apsisd.runs.state import FINISHED, State
from apsisd.store import sqlite as sqlite_module
from apsisd.store.base import Changes, RunQuery, runs_page
from apsisd.store.migrate import available
from apsisd.store.query import runs_sql
from apsisd.store.sqlite import SqliteStore

T = TypeVar("T")
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def run(scenario: Callable[[], Awaitable[T]], timeout: float = 10) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await scenario()
    return asyncio.run(bounded())


def a_run(run_id: RunId, job: str = "etl/load", minutes: int = 0, state: State = State.SCHEDULED,
          **fields: Any) -> Run:
    return Run(**{"id": run_id, "job_id": JobId(job), "schedule_time": T0 + timedelta(minutes=minutes),
                  "state": state, "times": {State.SCHEDULED: T0}, **fields})


def full_run(run_id: RunId) -> Run:
    spec = RunSpec(run_id=run_id, job_id=JobId("etl/load"), shell="exit 3", env={"A": "1"}, timeout=60.0, nice=5)
    return a_run(run_id, state=State.FAILURE, args={"date": "2026-11-26", "region": "eu"},
                 times={State.SCHEDULED: T0, State.STARTING: T0 + timedelta(microseconds=7),
                        State.RUNNING: T0 + timedelta(seconds=1), State.FAILURE: T0 + timedelta(seconds=9)},
                 origin=Origin.RERUN, attempt=2, previous=RunId("r1"), reason="exit code 3",
                 stop_time=T0 + timedelta(hours=1), spec=spec, unit=f"apsis-{run_id}.service",
                 invocation_id="ab" * 16, exit_code=3, signal="TERM", result="exit-code", cpu_time_ns=10**12,
                 memory_peak=2**40, lateness=0.000125)


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


def test_every_field_round_trips_and_survives_reopening(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        (number,) = store.new_ids(1)
        stored = full_run(number)
        await store.commit(Changes(runs=[stored]))
        assert await store.get(number) == stored
        await store.close()
        store = await opened(tmp_path)
        assert await store.get(number) == stored
        assert await store.unfinished() == []
        await store.close()
    run(scenario)


def test_a_run_written_again_replaces_its_row_and_keeps_its_log(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        (rid,) = store.new_ids(1)
        first = a_run(rid)
        await store.commit(Changes(runs=[first], log=[LogEntry(run_id=rid, time=T0, message="scheduled",
                                                               state=State.SCHEDULED)]))
        moved, entry = transition(first, State.STARTING, T0 + timedelta(seconds=1), "due", unit="apsis-r1.service")
        await store.commit(Changes(runs=[moved], log=[entry, LogEntry(run_id=rid, time=T0, message="note")]))
        assert await store.get(rid) == moved
        assert [e.message for e in await store.log(rid)] == ["scheduled", "due", "note"]
        assert (await store.log(rid))[1] == entry
        assert await store.unfinished() == [moved]
        await store.close()
    run(scenario)


def test_unknown_runs(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        (rid,) = store.new_ids(1)
        await store.commit(Changes(runs=[a_run(rid)]))
        assert await store.log(rid) == []
        for missing in ("r999", "r0", "r01", "nonsense", ""):
            with pytest.raises(UnknownRun, match=f"no run {missing}"):
                await store.get(RunId(missing))
            with pytest.raises(UnknownRun):
                await store.log(RunId(missing))
        await store.close()
    run(scenario)


def test_deleted_runs_go_with_their_log_and_their_numbers_stay_used(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        keep, drop = store.new_ids(2)
        await store.commit(Changes(runs=[a_run(keep), a_run(drop)],
                                   log=[LogEntry(run_id=drop, time=T0, message="made")]))
        await store.commit(Changes(deleted=[drop]))
        with pytest.raises(UnknownRun):
            await store.get(drop)
        with pytest.raises(UnknownRun):
            await store.log(drop)
        await store.close()
        store = await opened(tmp_path)
        assert store.new_ids(1) == ["r3"]  # r2 was committed once: never again
        assert [r.id for r in await store.unfinished()] == [keep]
        await store.close()
        assert sqlite3.connect(db(tmp_path)).execute("SELECT count(*) FROM run_log").fetchone() == (0,)
    run(scenario)


def test_cursors_are_set_replaced_and_forgotten(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        a, b = JobId("a"), JobId("b/c")
        await store.commit(Changes(cursors={a: T0, b: T0}))
        await store.commit(Changes(cursors={a: T0 + timedelta(microseconds=1), b: None}))
        await store.close()
        store = await opened(tmp_path)
        assert await store.cursors() == {a: T0 + timedelta(microseconds=1)}
        await store.close()
    run(scenario)


JOBS = ["etl", "etl/load", "etl/load/more", "etl2/x", "etla", "reports/daily"]


async def history(store: SqliteStore) -> list[Run]:
    """Three runs of each job, args and states varied, committed in id order."""
    runs = []
    states = [State.SUCCESS, State.FAILURE, State.RUNNING]
    for i, number in enumerate(store.new_ids(3 * len(JOBS))):
        args = {"date": f"2026-11-{20 + i % 3}"} | ({"region": "eu"} if i % 2 else {})
        runs.append(a_run(number, JOBS[i // 3], minutes=i, state=states[i % 3], args=args))
    await store.commit(Changes(runs=runs))
    return runs


@pytest.mark.parametrize(("query", "expected"), [
    (RunQuery(), lambda r: True),
    (RunQuery(job_id=JobId("etl/load")), lambda r: r.job_id == "etl/load"),
    (RunQuery(job_prefix="etl/"), lambda r: r.job_id in ("etl/load", "etl/load/more")),
    (RunQuery(job_prefix="etl"), lambda r: r.job_id in ("etl", "etl/load", "etl/load/more")),
    (RunQuery(job_prefix="etl/load"), lambda r: r.job_id in ("etl/load", "etl/load/more")),
    (RunQuery(job_prefix="/"), lambda r: True),
    (RunQuery(args={"region": "eu"}), lambda r: r.args.get("region") == "eu"),
    (RunQuery(args={"region": "eu", "date": "2026-11-21"}), lambda r: r.args == {"region": "eu", "date": "2026-11-21"}),
    (RunQuery(args={"date": "2026-11-20"}, exact_args=True), lambda r: r.args == {"date": "2026-11-20"}),
    (RunQuery(args={}, exact_args=True), lambda r: not r.args),
    (RunQuery(args={"region": "us"}), lambda r: False),
    (RunQuery(states=frozenset({State.RUNNING})), lambda r: r.state is State.RUNNING),
    (RunQuery(states=frozenset({State.SUCCESS, State.FAILURE})), lambda r: r.finished),
    (RunQuery(states=frozenset()), lambda r: False),
    (RunQuery(since=T0 + timedelta(minutes=4), until=T0 + timedelta(minutes=9)), lambda r: 4 <= _minute(r) < 9),
    (RunQuery(since=T0 + timedelta(minutes=10)), lambda r: _minute(r) >= 10),
    (RunQuery(until=T0 + timedelta(minutes=1)), lambda r: _minute(r) < 1),
    (RunQuery(before=RunId("r5")), lambda r: int(r.id[1:]) < 5),
    (RunQuery(job_prefix="etl", states=frozenset({State.SUCCESS}), args={"region": "eu"}),
     lambda r: r.job_id.startswith("etl/") and r.finished and r.state is State.SUCCESS and "region" in r.args),
    (RunQuery(job_ids=frozenset({JobId("etl"), JobId("etla"), JobId("nowhere")})),
     lambda r: r.job_id in ("etl", "etla")),
    (RunQuery(job_ids=frozenset({JobId("etl/load")})), lambda r: r.job_id == "etl/load"),
    (RunQuery(job_ids=frozenset()), lambda r: False),
    (RunQuery(job_ids=frozenset({JobId("etl"), JobId("etla")}), job_prefix="etl/"), lambda r: False),
    (RunQuery(job_ids=frozenset({JobId("etl"), JobId("etl/load")}), job_prefix="etl/"),
     lambda r: r.job_id == "etl/load"),
    (RunQuery(job_ids=frozenset({JobId("etl"), JobId("reports/daily")}), job_id=JobId("etl")),
     lambda r: r.job_id == "etl"),
    (RunQuery(job_ids=frozenset({JobId("etl"), JobId("reports/daily")}), states=frozenset({State.RUNNING})),
     lambda r: r.job_id in ("etl", "reports/daily") and r.state is State.RUNNING),
    (RunQuery(job_ids=frozenset({JobId("etl"), JobId("etla"), JobId("reports/daily")}), args={"region": "eu"},
              since=T0 + timedelta(minutes=2), before=RunId("r17")),
     lambda r: r.job_id in ("etl", "etla", "reports/daily") and "region" in r.args and _minute(r) >= 2
     and int(r.id[1:]) < 17),
])
def test_queries_filter_and_list_newest_first(tmp_path: Path, query: RunQuery, expected: Callable[[Run], bool]) -> None:
    async def scenario() -> tuple[list[Run], list[Run]]:
        store = await opened(tmp_path)
        runs = await history(store)
        found = await store.runs(query)
        await store.close()
        return runs, found
    runs, found = run(scenario)
    assert found == [r for r in reversed(runs) if expected(r)]


def test_limit_and_paging_walk_everything_once(tmp_path: Path) -> None:
    async def scenario() -> list[list[RunId]]:
        store = await opened(tmp_path)
        await history(store)
        pages: list[list[RunId]] = []
        before: RunId | None = None
        while page := await store.runs(RunQuery(job_prefix="etl", limit=4, before=before)):
            pages.append([r.id for r in page])
            before = page[-1].id
        assert await store.runs(RunQuery(limit=0)) == []
        await store.close()
        return pages
    pages = run(scenario)
    assert [len(page) for page in pages] == [4, 4, 1]
    assert [rid for page in pages for rid in page] == [f"r{n}" for n in range(9, 0, -1)]


def test_the_last_change_bounds_runs_by_when_their_rows_were_written(tmp_path: Path) -> None:
    """changed_since/changed_until bound the wall-clock instant of each run's latest write, not its times."""
    async def scenario() -> None:
        store = await opened(tmp_path)
        old, changed, new = (store.new_ids(2) for _ in range(3))
        await store.commit(Changes(runs=[a_run(rid) for rid in (*old, *changed)]))
        first = datetime.now(UTC)
        await store.commit(Changes(runs=[a_run(rid, state=State.WAITING) for rid in changed]))
        second = datetime.now(UTC)
        await store.commit(Changes(runs=[a_run(rid) for rid in new]))
        found = {
            "since first": await store.runs(RunQuery(changed_since=first)),
            "until first": await store.runs(RunQuery(changed_until=first)),
            "between": await store.runs(RunQuery(changed_since=first, changed_until=second)),
            "between, waiting": await store.runs(RunQuery(changed_since=first, changed_until=second,
                                                          states=frozenset({State.WAITING}))),
            "between, of a job": await store.runs(RunQuery(changed_since=first, changed_until=second,
                                                           job_id=JobId("reports"))),
        }
        await store.close()
        expected = {"since first": [*new, *changed], "until first": old, "between": changed,
                    "between, waiting": changed, "between, of a job": []}
        assert {key: [r.id for r in runs] for key, runs in found.items()} == {
            key: sorted(ids, key=lambda rid: -int(rid[1:])) for key, ids in expected.items()}
    run(scenario)


def test_a_page_says_where_the_next_begins_and_the_last_says_none(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[list[RunId]], list[RunId | None]]:
        store = await opened(tmp_path)
        await history(store)
        pages: list[list[RunId]] = []
        nexts: list[RunId | None] = []
        before: RunId | None = None
        while True:
            page, before = await runs_page(store, RunQuery(job_prefix="etl", limit=3, before=before))
            pages.append([r.id for r in page])
            nexts.append(before)
            if before is None:
                break
        assert await runs_page(store, RunQuery(job_id=JobId("nowhere"))) == ([], None)
        await store.close()
        return pages, nexts
    pages, nexts = run(scenario)
    # 9 runs under etl, 3 a page: the third page is full and the last, so no empty fourth page is promised.
    assert pages == [["r9", "r8", "r7"], ["r6", "r5", "r4"], ["r3", "r2", "r1"]]
    assert nexts == ["r7", "r4", None]


def test_naive_query_times_are_refused() -> None:
    with pytest.raises(StoreError, match="the query's since is a naive datetime"):
        runs_sql(RunQuery(since=datetime(2026, 1, 1)))
    with pytest.raises(StoreError, match="the query's changed_until is a naive datetime"):
        runs_sql(RunQuery(changed_until=datetime(2026, 1, 1)))


@pytest.mark.parametrize(("query", "index"), [
    (RunQuery(job_id=JobId("j")), "runs_job"),
    (RunQuery(job_id=JobId("j"), states=frozenset({State.FAILURE, State.ERROR})), "runs_job"),
    (RunQuery(job_id=JobId("j"), states=frozenset({State.FAILURE})), "runs_job"),
    (RunQuery(job_id=JobId("j"), args={"a": "1"}, exact_args=True, states=frozenset({State.SUCCESS})),
     "runs_instance"),
    (RunQuery(states=frozenset({State.FAILURE})), "runs_state"),
    (RunQuery(since=T0, until=T0 + timedelta(days=1)), "runs_schedule_time"),
    (RunQuery(job_prefix="etl/"), "runs_job"),
    (RunQuery(job_ids=frozenset({JobId("a"), JobId("b")})), "runs_job"),
    (RunQuery(job_ids=frozenset({JobId("a"), JobId("b")}), job_id=JobId("a"),
              states=frozenset({State.SUCCESS})), "runs_job"),
    (RunQuery(job_ids=frozenset({JobId("a"), JobId("b")}), states=frozenset({State.RUNNING})), "runs_state"),
    (RunQuery(changed_since=T0, changed_until=T0 + timedelta(hours=1)), "runs_updated"),
    (RunQuery(job_id=JobId("j"), changed_since=T0, changed_until=T0 + timedelta(hours=1)), "runs_job"),
    (RunQuery(job_id=JobId("j"), changed_since=T0), "runs_job"),
    (RunQuery(job_prefix="etl/", since=T0), "runs_job"),
    (RunQuery(states=frozenset({State.RUNNING}), changed_since=T0), "runs_state"),
])
def test_queries_use_their_indexes(tmp_path: Path, query: RunQuery, index: str) -> None:
    run(lambda: _open_close(tmp_path))
    found = runs_sql(query)
    assert found is not None
    plan = " ".join(row[3] for row in sqlite3.connect(db(tmp_path)).execute(f"EXPLAIN QUERY PLAN {found[0]}",
                                                                            found[1]))
    assert f"INDEX {index} " in plan, plan


def test_unfinished_uses_its_partial_index_which_names_the_finished_states(tmp_path: Path) -> None:
    run(lambda: _open_close(tmp_path))
    sql = f"SELECT id FROM runs WHERE {sqlite_module._UNFINISHED} ORDER BY id"
    conn = sqlite3.connect(db(tmp_path))
    assert "runs_unfinished" in conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchone()[3]
    (index_sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'runs_unfinished'").fetchone()
    named = set(re.findall(r"'(\w+)'", index_sql))
    assert named == {str(state) for state in FINISHED}, "a new finished state needs a migration of the index"


def test_finished_ahead_lists_the_runs_finished_before_their_time_through_its_index(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        store = await opened(tmp_path)
        try:
            await store.commit(Changes(runs=[
                a_run(RunId("r1"), minutes=-1, state=State.SUCCESS),  # before: not ahead
                a_run(RunId("r2"), minutes=2, state=State.SKIPPED),
                a_run(RunId("r3"), minutes=0, state=State.ERROR),  # due at the very instant: ahead
                a_run(RunId("r4"), minutes=1, state=State.STARTING),  # not finished
                a_run(RunId("r5"), minutes=1),
            ]))
            return [found.id for found in await store.finished_ahead(T0)]
        finally:
            await store.close()
    assert run(scenario) == ["r3", "r2"]  # in time order
    plan = " ".join(row[3] for row in sqlite3.connect(db(tmp_path)).execute(
        f"EXPLAIN QUERY PLAN {sqlite_module._FINISHED_AHEAD}", (0,)))
    assert "INDEX runs_schedule_time " in plan, plan


def test_concurrent_commits_are_grouped_and_all_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
                                                                                     message="made")])))
        await store.close()
        store = await opened(tmp_path)
        assert [r.id for r in await store.unfinished()] == ids
        for rid in ids[::50]:
            assert [e.message for e in await store.log(rid)] == ["made"]
        await store.close()
        return transactions
    transactions = run(scenario)
    assert 1 <= transactions < 50  # 500 commits: the first alone, the rest together (as many as arrived meanwhile)


def test_a_bad_commit_writes_nothing_and_fails_alone(tmp_path: Path) -> None:
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


def test_closed_is_closed_and_reopens(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        ids = store.new_ids(2)
        pending = asyncio.create_task(store.commit(Changes(runs=[a_run(ids[0])])))
        await asyncio.sleep(0)  # the commit is asked for: close finishes it first
        await store.close()
        await pending
        await store.close()
        with pytest.raises(StoreError, match="is closed"):
            await store.commit(Changes(runs=[a_run(ids[1])]))
        with pytest.raises(StoreError, match="is closed"):
            await store.get(ids[0])
        with pytest.raises(StoreError, match="is closed"):
            store.new_ids(1)
        assert not db(tmp_path).with_name("apsis.db-wal").exists()  # folded in on close
        store = await opened(tmp_path)
        assert [r.id for r in await store.unfinished()] == [ids[0]]
        assert store.new_ids(1) == ["r3"]
        await store.close()
    run(scenario)


def test_numbers_given_by_others_are_not_given_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        await store.commit(Changes(runs=[a_run(RunId("r40"))]))
        assert store.new_ids(2) == ["r41", "r42"]
        await store.close()
    run(scenario)


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


def _minute(run_: Run) -> float:
    return (run_.schedule_time - T0) / timedelta(minutes=1)


def test_full_run_fixture_is_complete() -> None:
    """Every Run field is set to something other than its default in full_run, so the round trip covers it."""
    defaults = Run(id=RunId("r2"), job_id=JobId("x"), schedule_time=T0)
    differs = {name for name in Run.__dataclass_fields__
               if getattr(full_run(RunId("r2")), name) != getattr(defaults, name)}
    assert differs == set(Run.__dataclass_fields__) - {"id", "schedule_time"}
