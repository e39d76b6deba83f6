"""The Store contract (apsisd/store/base.py), one suite run against every store STORES lists.

Only what the protocol promises, never what one store happens to do: runs
read back as written, every query filter and the paging, the change feed's
numbers, cursors, the actions owed and their marks, the runs finished ahead
and the late ones, commits all or nothing and seen whole, StoreError and
UnknownRun, and all of it kept across closing and opening again. Pure: no
systemd, run on the host with the unit tests (so its stores are listed here,
not in tests/contract/conftest.py, which is the Host suite's and needs one).

A store is given as an opener, not as an open store: each call opens the
same stored state again, as a restarted apsisd finds it, so that what a
store keeps across closing is part of its contract too.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agentd.spec import RunSpec
from agentd.types import JobId, RunId
from apsisd.errors import StoreError, UnknownRun
from apsisd.runs.model import LogEntry, Origin, Run, run_number, transition
from apsisd.runs.state import FINISHED, State
from apsisd.store.base import Changes, RunQuery, Store, runs_page
from apsisd.store.sqlite import SqliteStore

T = TypeVar("T")
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
StoreOpener = Callable[[], Awaitable[Store]]


def _sqlite(folder: Path) -> StoreOpener:
    path = folder / "state" / "apsis.db"

    async def open_store() -> Store:
        return await SqliteStore.open(path)
    return open_store


# Every store the suite proves: a new one joins with one line.
STORES: dict[str, Callable[[Path], StoreOpener]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(STORES))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    """Opens the store under test, over its own place in tmp_path: empty at first, kept between opens."""
    return STORES[request.param](tmp_path)


def a_run(run_id: RunId, job: str = "etl/load", minutes: int = 0, state: State = State.SCHEDULED,
          **fields: Any) -> Run:
    return Run(**{"id": run_id, "job_id": JobId(job), "schedule_time": T0 + timedelta(minutes=minutes),
                  "state": state, "times": {State.SCHEDULED: T0}, **fields})


def full_run(run_id: RunId) -> Run:
    """A run with every field set to something other than its default (test_full_run_sets_every_field)."""
    spec = RunSpec(run_id=run_id, job_id=JobId("etl/load"), shell="exit 3", env={"A": "1"}, timeout=60.0, nice=5)
    return a_run(run_id, state=State.FAILURE, args={"date": "2026-11-26", "region": "eu"},
                 times={State.SCHEDULED: T0, State.STARTING: T0 + timedelta(microseconds=7),
                        State.RUNNING: T0 + timedelta(seconds=1), State.FAILURE: T0 + timedelta(seconds=9)},
                 origin=Origin.RERUN, attempt=2, previous=RunId("r1"), reason="exit code 3",
                 stop_time=T0 + timedelta(hours=1), spec=spec, unit=f"apsis-{run_id}.service",
                 invocation_id="ab" * 16, exit_code=3, signal="TERM", result="exit-code", cpu_time_ns=10**12,
                 memory_peak=2**40, lateness=0.000125, host="db-eu_1")


def odd_run(run_id: RunId) -> Run:
    """Text that quoting or encoding could break, times in another zone, numbers at their edges."""
    east = timezone(timedelta(hours=5, minutes=30))
    return a_run(run_id, job="ünï/cödé's \"job\"", args={"q": "it's \"quoted\"", "nl": "a\nb", "": "", "é": "✓"},
                 times={State.SCHEDULED: T0.astimezone(east), State.SKIPPED: T0 + timedelta(days=400)},
                 state=State.SKIPPED, reason="line one\nline two", exit_code=0, cpu_time_ns=0, lateness=-0.5,
                 stop_time=datetime(9999, 12, 31, tzinfo=UTC))


def on_store(open_store: StoreOpener, scenario: Callable[[Store], Awaitable[T]], timeout: float = 10) -> T:
    """`scenario` on the store opened, closed after, all under a deadline."""
    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            store = await open_store()
            try:
                return await scenario(store)
            finally:
                await store.close()
    return asyncio.run(bounded())


async def reopened(store: Store, open_store: StoreOpener) -> Store:
    """The store closed and opened again: what a restarted apsisd finds."""
    await store.close()
    return await open_store()


def newest_first(runs: list[Run]) -> list[Run]:
    return sorted(runs, key=lambda run: -run_number(run.id))


# -- runs read back as written ----------------------------------------------------------------------------


def test_full_run_sets_every_field() -> None:
    """The round trip below covers every field of Run only if full_run sets each one (a new field: set it)."""
    defaults = Run(id=RunId("r2"), job_id=JobId("x"), schedule_time=T0)
    differs = {name for name in Run.__dataclass_fields__
               if getattr(full_run(RunId("r2")), name) != getattr(defaults, name)}
    assert differs == set(Run.__dataclass_fields__) - {"id", "schedule_time"}


@pytest.mark.parametrize("make", [full_run, odd_run, lambda rid: Run(id=rid, job_id=JobId("j"), schedule_time=T0)],
                         ids=["every field", "odd values", "defaults"])
def test_a_run_reads_back_as_written_and_after_reopening(open_store: StoreOpener,
                                                          make: Callable[[RunId], Run]) -> None:
    async def scenario(store: Store) -> None:
        (rid,) = store.new_ids(1)
        stored = make(rid)
        await store.commit(Changes(runs=[stored]))
        assert await store.get(rid) == stored
        assert await store.runs(RunQuery()) == [stored]
        store = await reopened(store, open_store)
        try:
            assert await store.get(rid) == stored
            assert await store.unfinished() == ([] if stored.finished else [stored])
        finally:
            await store.close()
    on_store(open_store, scenario)


def test_the_host_a_run_is_bound_to_is_kept_and_read_back_after_reopening(open_store: StoreOpener) -> None:
    """What a restart follows a run on: its host, written with `starting`, before the host is asked anything."""
    async def scenario(store: Store) -> None:
        (rid,) = store.new_ids(1)
        scheduled = a_run(rid, state=State.SCHEDULED)
        await store.commit(Changes(runs=[scheduled]))
        assert (await store.get(rid)).host is None
        starting = replace(scheduled, state=State.STARTING, times={State.STARTING: T0}, host="db2")
        await store.commit(Changes(runs=[starting]))
        store = await reopened(store, open_store)
        try:
            assert [run.host for run in await store.unfinished()] == ["db2"]
            assert (await store.get(rid)).host == "db2"
        finally:
            await store.close()
    on_store(open_store, scenario)


def test_a_run_written_again_replaces_it_and_its_log_grows(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        (rid,) = store.new_ids(1)
        first = a_run(rid)
        made = LogEntry(run_id=rid, time=T0, message="scheduled", state=State.SCHEDULED)
        await store.commit(Changes(runs=[first], log=[made]))
        moved, entry = transition(first, State.STARTING, T0 + timedelta(seconds=1), "due", unit="apsis-r1.service")
        note = LogEntry(run_id=rid, time=T0, message="note")  # older than the entry before it: kept in write order
        await store.commit(Changes(runs=[moved], log=[entry, note]))
        assert await store.get(rid) == moved
        assert await store.runs(RunQuery()) == [moved]
        assert await store.log(rid) == [made, entry, note]
        assert await store.unfinished() == [moved]
    on_store(open_store, scenario)


def test_unknown_runs_are_unknown_and_a_run_without_a_log_has_an_empty_one(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        (rid,) = store.new_ids(1)
        await store.commit(Changes(runs=[a_run(rid)]))
        assert await store.log(rid) == []
        for missing in ("r999", "r0", "r01", "nonsense", "", f"r{2**64}"):
            with pytest.raises(UnknownRun, match=f"no run {missing}"):
                await store.get(RunId(missing))
            with pytest.raises(UnknownRun):
                await store.log(RunId(missing))
    on_store(open_store, scenario)


def test_unfinished_is_every_run_not_in_a_finished_state(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        runs = [a_run(rid, state=state) for rid, state in zip(store.new_ids(len(State)), State, strict=True)]
        await store.commit(Changes(runs=runs))
        unfinished = await store.unfinished()
        assert sorted(unfinished, key=lambda run: run_number(run.id)) == [r for r in runs if r.state not in FINISHED]
    on_store(open_store, scenario)


# -- run ids and deleted runs ------------------------------------------------------------------------------


def test_new_ids_are_never_given_twice_and_grow(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        assert store.new_ids(0) == []
        first, second = store.new_ids(3), store.new_ids(2)
        assert first == ["r1", "r2", "r3"]  # a fresh store numbers from r1
        assert [run_number(rid) for rid in first + second] == sorted({run_number(rid) for rid in first + second})
        await store.commit(Changes(runs=[a_run(rid) for rid in second]))
        store = await reopened(store, open_store)
        try:
            assert min(run_number(rid) for rid in store.new_ids(2)) > run_number(second[-1])
        finally:
            await store.close()
    on_store(open_store, scenario)


def test_numbers_given_by_others_are_not_given_again(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        await store.commit(Changes(runs=[a_run(RunId("r40"))]))
        assert store.new_ids(2) == ["r41", "r42"]
    on_store(open_store, scenario)


def test_deleted_runs_go_with_their_log_and_their_numbers_stay_used(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        keep, drop = store.new_ids(2)
        await store.commit(Changes(runs=[a_run(keep), a_run(drop)],
                                   log=[LogEntry(run_id=drop, time=T0, message="made")]))
        await store.commit(Changes(deleted=[drop]))
        with pytest.raises(UnknownRun):
            await store.get(drop)
        with pytest.raises(UnknownRun):
            await store.log(drop)
        assert [run.id for run in await store.runs(RunQuery())] == [keep]
        store = await reopened(store, open_store)
        try:
            assert store.new_ids(1) == ["r3"]  # r2 was committed once: never again
            assert [run.id for run in await store.unfinished()] == [keep]
        finally:
            await store.close()
    on_store(open_store, scenario)


# -- cursors -----------------------------------------------------------------------------------------------


def test_cursors_are_set_replaced_and_forgotten_and_kept(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        a, b, c = JobId("a"), JobId("b/c"), JobId("never")
        assert await store.cursors() == {}
        await store.commit(Changes(cursors={a: T0, b: T0}))
        await store.commit(Changes(cursors={a: T0 + timedelta(microseconds=1), b: None, c: None}))
        store = await reopened(store, open_store)
        try:
            assert await store.cursors() == {a: T0 + timedelta(microseconds=1)}
        finally:
            await store.close()
    on_store(open_store, scenario)


# -- queries -----------------------------------------------------------------------------------------------


JOBS = ["etl", "etl/load", "etl/load/more", "etl2/x", "etla", "reports/daily"]


async def history(store: Store) -> list[Run]:
    """Three runs of each job, args and states varied, committed in id order (r1 to r18 on a fresh store)."""
    runs = []
    states = [State.SUCCESS, State.FAILURE, State.RUNNING]
    for i, number in enumerate(store.new_ids(3 * len(JOBS))):
        args = {"date": f"2026-11-{20 + i % 3}"} | ({"region": "eu"} if i % 2 else {})
        runs.append(a_run(number, JOBS[i // 3], minutes=i, state=states[i % 3], args=args))
    await store.commit(Changes(runs=runs))
    return runs


def _minute(run_: Run) -> float:
    return (run_.schedule_time - T0) / timedelta(minutes=1)


@pytest.mark.parametrize(("query", "expected"), [
    (RunQuery(), lambda r: True),
    (RunQuery(job_id=JobId("etl/load")), lambda r: r.job_id == "etl/load"),
    (RunQuery(job_id=JobId("etl/")), lambda r: False),
    (RunQuery(job_prefix="etl/"), lambda r: r.job_id in ("etl/load", "etl/load/more")),
    (RunQuery(job_prefix="etl"), lambda r: r.job_id in ("etl", "etl/load", "etl/load/more")),
    (RunQuery(job_prefix="etl/load"), lambda r: r.job_id in ("etl/load", "etl/load/more")),
    (RunQuery(job_prefix="/"), lambda r: True),
    (RunQuery(args={"region": "eu"}), lambda r: r.args.get("region") == "eu"),
    (RunQuery(args={"region": "eu", "date": "2026-11-21"}), lambda r: r.args == {"region": "eu", "date": "2026-11-21"}),
    (RunQuery(args={"date": "2026-11-20"}, exact_args=True), lambda r: r.args == {"date": "2026-11-20"}),
    (RunQuery(args={}, exact_args=True), lambda r: not r.args),
    (RunQuery(args={}), lambda r: True),
    (RunQuery(args={"region": "us"}), lambda r: False),
    (RunQuery(states=frozenset({State.RUNNING})), lambda r: r.state is State.RUNNING),
    (RunQuery(states=frozenset({State.SUCCESS, State.FAILURE})), lambda r: r.finished),
    (RunQuery(states=frozenset()), lambda r: False),
    (RunQuery(since=T0 + timedelta(minutes=4), until=T0 + timedelta(minutes=9)), lambda r: 4 <= _minute(r) < 9),
    (RunQuery(since=T0 + timedelta(minutes=10)), lambda r: _minute(r) >= 10),
    (RunQuery(until=T0 + timedelta(minutes=1)), lambda r: _minute(r) < 1),
    (RunQuery(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=3)), lambda r: False),
    (RunQuery(before=RunId("r5")), lambda r: run_number(r.id) < 5),
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
     and run_number(r.id) < 17),
    (RunQuery(limit=5), lambda r: run_number(r.id) > 13),
])
def test_queries_filter_and_list_newest_first(open_store: StoreOpener, query: RunQuery,
                                              expected: Callable[[Run], bool]) -> None:
    async def scenario(store: Store) -> tuple[list[Run], list[Run]]:
        runs = await history(store)
        return runs, await store.runs(query)
    runs, found = on_store(open_store, scenario)
    assert found == [r for r in newest_first(runs) if expected(r)]


def test_limit_and_paging_walk_everything_once(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> tuple[list[Run], list[list[RunId]]]:
        runs = await history(store)
        pages: list[list[RunId]] = []
        before: RunId | None = None
        while page := await store.runs(RunQuery(job_prefix="etl", limit=4, before=before)):
            pages.append([r.id for r in page])
            before = page[-1].id
        assert await store.runs(RunQuery(limit=0)) == []
        return runs, pages
    runs, pages = on_store(open_store, scenario)
    assert [len(page) for page in pages] == [4, 4, 1]
    assert [rid for page in pages for rid in page] == [r.id for r in newest_first(runs) if r.job_id.startswith("etl")
                                                       and not r.job_id.startswith(("etl2", "etla"))]


def test_a_page_says_where_the_next_begins_and_the_last_says_none(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> tuple[list[list[RunId]], list[RunId | None]]:
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
        return pages, nexts
    pages, nexts = on_store(open_store, scenario)
    # 9 runs under etl, 3 a page: the third page is full and the last, so no empty fourth page is promised.
    assert pages == [["r9", "r8", "r7"], ["r6", "r5", "r4"], ["r3", "r2", "r1"]]
    assert nexts == ["r7", "r4", None]


# -- hosts, origins, and the order by schedule time ---------------------------------------------------------

# Due minutes that do not follow the ids, three of them shared by two or three runs (ties broken by id).
MINUTES = [5, 3, 9, 3, 7, 1, 9, 0, 5, 8, 2, 3]
HOSTS = ["local", "db1", None, "db2"]
ORIGINS = [Origin.SCHEDULE, Origin.MANUAL, Origin.ADHOC, Origin.RERUN, Origin.SCHEDULE, Origin.RETRY]


async def mixed_history(store: Store) -> list[Run]:
    """Twelve runs (r1 to r12 on a fresh store), due out of id order, of varied jobs, states, hosts and origins."""
    runs = []
    states = [State.SUCCESS, State.FAILURE, State.RUNNING]
    for i, number in enumerate(store.new_ids(len(MINUTES))):
        runs.append(a_run(number, JOBS[i % len(JOBS)], minutes=MINUTES[i], state=states[i % 3],
                          host=HOSTS[i % len(HOSTS)], origin=ORIGINS[i % len(ORIGINS)],
                          args={"region": "eu"} if i % 2 else {}))
    await store.commit(Changes(runs=runs))
    return runs


def latest_first(runs: list[Run]) -> list[Run]:
    return sorted(runs, key=lambda run: (run.schedule_time, run_number(run.id)), reverse=True)


ORDERS = {"id": newest_first, "time": latest_first}


@pytest.mark.parametrize("order", sorted(ORDERS))
@pytest.mark.parametrize(("query", "expected"), [
    (RunQuery(), lambda r: True),
    (RunQuery(hosts=frozenset({"local"})), lambda r: r.host == "local"),
    (RunQuery(hosts=frozenset({"db1", "db2", "nowhere"})), lambda r: r.host in ("db1", "db2")),
    (RunQuery(hosts=frozenset({"nowhere"})), lambda r: False),
    (RunQuery(hosts=frozenset()), lambda r: False),
    (RunQuery(origins=frozenset({Origin.ADHOC})), lambda r: r.origin is Origin.ADHOC),
    (RunQuery(origins=frozenset({Origin.MANUAL, Origin.RERUN})), lambda r: r.origin in (Origin.MANUAL, Origin.RERUN)),
    (RunQuery(origins=frozenset({Origin.ACTION})), lambda r: False),
    (RunQuery(origins=frozenset()), lambda r: False),
    (RunQuery(hosts=frozenset({"local", "db1"}), states=frozenset({State.SUCCESS})),
     lambda r: r.host in ("local", "db1") and r.state is State.SUCCESS),
    (RunQuery(origins=frozenset({Origin.SCHEDULE}), states=frozenset({State.SUCCESS, State.RUNNING})),
     lambda r: r.origin is Origin.SCHEDULE and r.state in (State.SUCCESS, State.RUNNING)),
    (RunQuery(hosts=frozenset({"local", "db2"}), origins=frozenset({Origin.SCHEDULE, Origin.RERUN})),
     lambda r: r.host in ("local", "db2") and r.origin in (Origin.SCHEDULE, Origin.RERUN)),
    (RunQuery(job_prefix="etl/", hosts=frozenset({"local", "db1", "db2"})),
     lambda r: r.job_id in ("etl/load", "etl/load/more") and r.host is not None),
    (RunQuery(job_id=JobId("etl"), states=frozenset({State.SUCCESS, State.FAILURE})),
     lambda r: r.job_id == "etl" and r.finished),
    (RunQuery(job_ids=frozenset({JobId("etl"), JobId("reports/daily")}), origins=frozenset({Origin.SCHEDULE})),
     lambda r: r.job_id in ("etl", "reports/daily") and r.origin is Origin.SCHEDULE),
    (RunQuery(args={"region": "eu"}, hosts=frozenset({"db1"})), lambda r: "region" in r.args and r.host == "db1"),
    (RunQuery(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=8)), lambda r: 3 <= _minute(r) < 8),
    (RunQuery(since=T0 + timedelta(minutes=5), states=frozenset({State.SUCCESS, State.RUNNING})),
     lambda r: _minute(r) >= 5 and r.state in (State.SUCCESS, State.RUNNING)),
    (RunQuery(until=T0 + timedelta(minutes=4), hosts=frozenset({"local", "db1", "db2"})),
     lambda r: _minute(r) < 4 and r.host is not None),
])
def test_hosts_origins_and_both_orders(open_store: StoreOpener, query: RunQuery, expected: Callable[[Run], bool],
                                       order: str) -> None:
    async def scenario(store: Store) -> tuple[list[Run], list[Run]]:
        runs = await mixed_history(store)
        return runs, await store.runs(replace(query, order=order))  # type: ignore[arg-type]
    runs, found = on_store(open_store, scenario)
    assert found == [r for r in ORDERS[order](runs) if expected(r)]


@pytest.mark.parametrize("query", [RunQuery(), RunQuery(hosts=frozenset({"local", "db1", "db2"})),
                                   RunQuery(states=frozenset({State.SUCCESS, State.FAILURE})),
                                   RunQuery(origins=frozenset({Origin.SCHEDULE, Origin.RERUN, Origin.RETRY}))])
def test_paging_in_time_order_walks_everything_once_across_ties(open_store: StoreOpener, query: RunQuery) -> None:
    """Pages of 2 over runs that share a due time: a tie split across two pages is neither lost nor repeated."""
    async def scenario(store: Store) -> tuple[list[Run], list[list[RunId]], list[RunId | None]]:
        runs = await mixed_history(store)
        pages: list[list[RunId]] = []
        nexts: list[RunId | None] = []
        before: RunId | None = None
        while True:
            page, before = await runs_page(store, replace(query, order="time", limit=2, before=before))
            pages.append([r.id for r in page])
            nexts.append(before)
            if before is None:
                return runs, pages, nexts
    runs, pages, nexts = on_store(open_store, scenario)
    wanted = [r.id for r in latest_first(runs) if r in on_query(query, runs)]
    assert [rid for page in pages for rid in page] == wanted
    assert all(len(page) == 2 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 2
    assert nexts == [page[-1] for page in pages[:-1]] + [None]


def on_query(query: RunQuery, runs: list[Run]) -> list[Run]:
    """The runs of `runs` that the few filters test_paging_in_time_order... gives hold for."""
    return [r for r in runs if (query.hosts is None or r.host in query.hosts)
            and (query.states is None or r.state in query.states)
            and (query.origins is None or r.origin in query.origins)]


def test_before_in_time_order_is_the_runs_after_that_run_whatever_it_matches(open_store: StoreOpener) -> None:
    """`before` may name a run the filters leave out (the page's filters changed): it places the page all the
    same. A run that is not stored places nothing: no runs."""
    async def scenario(store: Store) -> tuple[list[Run], dict[str, list[RunId]]]:
        runs = await mixed_history(store)
        hosted = frozenset({"local", "db1", "db2"})
        return runs, {
            "after r3": [r.id for r in await store.runs(RunQuery(order="time", before=RunId("r3")))],
            "hosted, after r3": [r.id for r in await store.runs(RunQuery(order="time", before=RunId("r3"),
                                                                         hosts=hosted))],
            "after r7": [r.id for r in await store.runs(RunQuery(order="time", before=RunId("r7")))],
            "after r99": [r.id for r in await store.runs(RunQuery(order="time", before=RunId("r99")))],
        }
    runs, found = on_store(open_store, scenario)
    ordered = latest_first(runs)
    after = {rid: [r.id for r in ordered[[r.id for r in ordered].index(RunId(rid)) + 1:]] for rid in ("r3", "r7")}
    assert runs[2].host is None  # r3: on no host, so the hosted runs leave it out, yet it places their page
    assert found == {"after r3": after["r3"],
                     "hosted, after r3": [rid for rid in after["r3"] if runs[run_number(rid) - 1].host is not None],
                     "after r7": after["r7"], "after r99": []}


def test_the_last_change_bounds_runs_by_when_they_were_written(open_store: StoreOpener) -> None:
    """changed_since/changed_until bound the wall-clock instant of each run's latest write, not its times."""
    async def scenario(store: Store) -> None:
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
        expected = {"since first": [*new, *changed], "until first": old, "between": changed,
                    "between, waiting": changed, "between, of a job": []}
        assert {key: [r.id for r in runs] for key, runs in found.items()} == {
            key: sorted(ids, key=lambda rid: -run_number(rid)) for key, ids in expected.items()}
    on_store(open_store, scenario)


@pytest.mark.parametrize("query", [RunQuery(since=datetime(2026, 1, 1)), RunQuery(until=datetime(2026, 1, 1)),
                                   RunQuery(changed_since=datetime(2026, 1, 1)),
                                   RunQuery(changed_until=datetime(2026, 1, 1))])
def test_a_naive_time_in_a_query_is_refused(open_store: StoreOpener, query: RunQuery) -> None:
    async def scenario(store: Store) -> None:
        with pytest.raises(StoreError, match="naive datetime"):
            await store.runs(query)
    on_store(open_store, scenario)


# -- runs finished ahead, late runs ------------------------------------------------------------------------


def test_finished_ahead_lists_the_runs_due_since_that_finished_in_time_order(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> list[RunId]:
        await store.commit(Changes(runs=[
            a_run(RunId("r1"), minutes=-1, state=State.SUCCESS),  # before: not ahead
            a_run(RunId("r2"), minutes=2, state=State.SKIPPED),
            a_run(RunId("r3"), minutes=0, state=State.ERROR),  # due at the very instant: ahead
            a_run(RunId("r4"), minutes=1, state=State.STARTING),  # not finished
            a_run(RunId("r5"), minutes=1),
            a_run(RunId("r6"), minutes=1, state=State.FAILURE),
        ]))
        return [found.id for found in await store.finished_ahead(T0)]
    assert on_store(open_store, scenario) == ["r3", "r6", "r2"]


def test_late_lists_the_runs_due_since_that_started_late_latest_due_first(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> dict[str, list[RunId]]:
        await store.commit(Changes(runs=[
            a_run(RunId("r1"), minutes=-1, lateness=9.0),  # due before `since`
            a_run(RunId("r2"), minutes=0, lateness=2.5, state=State.SUCCESS),
            a_run(RunId("r3"), minutes=3, lateness=2.0),  # exactly the threshold: not more
            a_run(RunId("r4"), minutes=2, lateness=30.0, state=State.RUNNING),
            a_run(RunId("r5"), minutes=4),  # never started
            a_run(RunId("r6"), minutes=5, lateness=-0.1),  # early
        ]))
        return {"all": [run.id for run in await store.late(T0, 2.0, 10)],
                "limited": [run.id for run in await store.late(T0, 2.0, 1)],
                "below": [run.id for run in await store.late(T0, -1.0, 10)]}
    assert on_store(open_store, scenario) == {"all": ["r4", "r2"], "limited": ["r4"],
                                              "below": ["r6", "r3", "r4", "r2"]}


# -- the change feed ---------------------------------------------------------------------------------------


def test_each_run_written_gets_the_next_sequence_number_in_commit_order(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        a, b, c = store.new_ids(3)
        assert store.next_seq == 1
        assert await store.commit(Changes(runs=[a_run(a), a_run(b)])) == 1
        assert await store.commit(Changes()) == 3  # nothing written: nothing used
        assert await store.commit(Changes(runs=[a_run(c)], deleted=[b])) == 3
        assert store.next_seq == 5
        assert await store.changed_since(0, 100) == [(1, a_run(a)), (3, a_run(c)), (4, b)]
        assert await store.changed_since(3, 100) == [(4, b)]
        assert await store.changed_since(4, 100) == []
        store = await reopened(store, open_store)
        try:
            assert store.next_seq == 5
            assert await store.changed_since(0, 100) == [(1, a_run(a)), (3, a_run(c)), (4, b)]
        finally:
            await store.close()
    on_store(open_store, scenario)


def test_a_run_written_again_is_listed_once_with_its_latest_number(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        a, b = store.new_ids(2)
        await store.commit(Changes(runs=[a_run(a), a_run(b)]))
        started, _ = transition(a_run(a), State.STARTING, T0)
        await store.commit(Changes(runs=[started]))
        assert await store.changed_since(0, 100) == [(2, a_run(b)), (3, started)]
        assert await store.changed_since(2, 100) == [(3, started)]
    on_store(open_store, scenario)


def test_changed_since_pages_by_runs_and_keeps_deletions_in_their_place(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        ids = store.new_ids(5)
        await store.commit(Changes(runs=[a_run(ids[0]), a_run(ids[1])]))  # 1, 2
        await store.commit(Changes(deleted=[ids[0]]))  # 3
        await store.commit(Changes(runs=[a_run(ids[2]), a_run(ids[3])], deleted=[ids[1]]))  # 4, 5, 6
        # Two runs a page (r1 and r2 are gone: the numbers of their rows went with them), with the deletions
        # up to the last of them; the next page starts after it.
        assert await store.changed_since(0, 2) == [(3, ids[0]), (4, a_run(ids[2])), (5, a_run(ids[3]))]
        assert await store.changed_since(5, 2) == [(6, ids[1])]
    on_store(open_store, scenario)


def test_concurrent_commits_are_numbered_in_the_order_they_were_asked_and_all_kept(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        ids = store.new_ids(300)
        async with asyncio.TaskGroup() as tg:
            commits = [tg.create_task(store.commit(Changes(runs=[a_run(rid)], log=[
                LogEntry(run_id=rid, time=T0, message=f"made {rid}")])), name=f"commit:{rid}") for rid in ids]
        assert [commit.result() for commit in commits] == list(range(1, len(ids) + 1))
        store = await reopened(store, open_store)
        try:
            assert [number for number, _ in await store.changed_since(0, 1000)] == list(range(1, len(ids) + 1))
            assert sorted(run_number(run.id) for run in await store.unfinished()) == [run_number(r) for r in ids]
            for rid in ids[::50]:
                assert [e.message for e in await store.log(rid)] == [f"made {rid}"]
        finally:
            await store.close()
    on_store(open_store, scenario)


# -- actions owed and their marks --------------------------------------------------------------------------


def test_actions_owed_are_kept_until_crossed_off_with_their_marks(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        r1, r2 = store.new_ids(2)
        await store.commit(Changes(runs=[a_run(r1, state=State.FAILURE), a_run(r2, state=State.RUNNING)],
                                   actions_owed=[(r1, State.FAILURE), (r2, State.RUNNING)]))
        await store.commit(Changes(actions_owed=[(r1, State.FAILURE)]))  # owed twice: owed once
        await store.commit(Changes(actions_ran=[(r1, State.FAILURE, 0), (r1, State.FAILURE, 2)]))
        await store.commit(Changes(actions_ran=[(r1, State.FAILURE, 2)]))  # marked twice: marked once
        owed = {(run, state): ran for run, state, ran in await store.actions_owed()}
        assert owed == {(r1, State.FAILURE): frozenset({0, 2}), (r2, State.RUNNING): frozenset()}
        store = await reopened(store, open_store)
        try:
            assert {(run, state): ran for run, state, ran in await store.actions_owed()} == owed
            await store.commit(Changes(actions_done=[(r1, State.FAILURE)]))
            assert await store.actions_owed() == [(r2, State.RUNNING, frozenset())]
            await store.commit(Changes(actions_owed=[(r1, State.FAILURE)]))  # owed again: its old marks went
            assert {(run, state): ran for run, state, ran in await store.actions_owed()} == {
                (r1, State.FAILURE): frozenset(), (r2, State.RUNNING): frozenset()}
        finally:
            await store.close()
    on_store(open_store, scenario)


def test_a_successor_and_its_mark_are_committed_together_or_not_at_all(open_store: StoreOpener) -> None:
    """A `schedule` action's run is made exactly once: its run and the mark that it was made land together."""
    async def scenario(store: Store) -> None:
        first, successor, failed = store.new_ids(3)
        await store.commit(Changes(runs=[a_run(first, state=State.SUCCESS)], actions_owed=[(first, State.SUCCESS)]))
        with pytest.raises(StoreError):
            await store.commit(Changes(runs=[a_run(failed, job="second", stop_time=datetime(2026, 1, 1))],
                                       actions_ran=[(first, State.SUCCESS, 0)]))
        assert await store.actions_owed() == [(first, State.SUCCESS, frozenset())]
        with pytest.raises(UnknownRun):
            await store.get(failed)
        await store.commit(Changes(runs=[a_run(successor, job="second", previous=first, origin=Origin.ACTION)],
                                   actions_ran=[(first, State.SUCCESS, 0)]))
        assert await store.actions_owed() == [(first, State.SUCCESS, frozenset({0}))]
        assert (await store.get(successor)).previous == first
    on_store(open_store, scenario)


# -- commits: all or nothing, seen whole -------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a naive time", "a log line of no run"])
def test_a_commit_that_cannot_be_written_writes_nothing_and_fails_alone(open_store: StoreOpener, bad: str) -> None:
    async def scenario(store: Store) -> None:
        before, victim, other, after = store.new_ids(4)
        await store.commit(Changes(runs=[a_run(before)], cursors={JobId("j"): T0}))
        broken = {"a naive time": a_run(other, stop_time=datetime(2026, 1, 1)),
                  "a log line of no run": a_run(other)}[bad]
        orphan = [LogEntry(run_id=RunId("r999"), time=T0, message="orphan")] if bad == "a log line of no run" else []
        results = await asyncio.gather(
            store.commit(Changes(runs=[a_run(victim), broken], log=[LogEntry(run_id=victim, time=T0, message="x"),
                                                                     *orphan],
                                 cursors={JobId("j"): T0 + timedelta(hours=1), JobId("k"): T0},
                                 actions_owed=[(before, State.SCHEDULED)], deleted=[before])),
            store.commit(Changes(runs=[a_run(after)], log=[LogEntry(run_id=after, time=T0, message="fine")])),
            return_exceptions=True)
        assert isinstance(results[0], StoreError), results
        assert isinstance(results[1], int), results
        assert [run.id for run in await store.runs(RunQuery())] == [after, before]
        for missing in (victim, other):
            with pytest.raises(UnknownRun):
                await store.get(missing)
        assert [entry.message for entry in await store.log(after)] == ["fine"]
        assert await store.cursors() == {JobId("j"): T0}
        assert await store.actions_owed() == []
        assert [change for _, change in await store.changed_since(0, 100)] == [a_run(before), a_run(after)]
        await store.commit(Changes(runs=[a_run(victim)]))  # the store goes on
        assert (await store.get(victim)).id == victim
    on_store(open_store, scenario)


def test_what_is_committed_together_is_seen_together(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        ids = store.new_ids(2000)
        whole = Changes(runs=[a_run(rid) for rid in ids], log=[LogEntry(run_id=rid, time=T0, message="made")
                                                                for rid in ids],
                        cursors={JobId("etl/load"): T0}, actions_owed=[(ids[-1], State.SCHEDULED)])
        commit = asyncio.create_task(store.commit(whole), name="commit:whole")
        while not commit.done():
            runs, cursors, owed = await store.unfinished(), await store.cursors(), await store.actions_owed()
            # Each read on its own sees all or none; read one after another they may straddle the commit.
            assert len(runs) in (0, len(ids)) and len(cursors) in (0, 1) and len(owed) in (0, 1)
        await commit
        assert (len(await store.unfinished()), len(await store.cursors()), len(await store.actions_owed())) == (
            len(ids), 1, 1)
        assert await store.log(ids[-1]) != []
    on_store(open_store, scenario)


def test_a_cancelled_commit_is_written_whole_or_not_at_all(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        ids = store.new_ids(50)
        commit = asyncio.create_task(store.commit(Changes(runs=[a_run(rid) for rid in ids])), name="commit:cancelled")
        await asyncio.sleep(0)
        commit.cancel()
        with pytest.raises(asyncio.CancelledError):
            await commit
        (later,) = store.new_ids(1)
        await store.commit(Changes(runs=[a_run(later)]))  # after it: the cancelled one has landed by now, or never
        assert len(await store.unfinished()) in (1, len(ids) + 1)
    on_store(open_store, scenario)


# -- checking, closing -------------------------------------------------------------------------------------


def test_check_writable_changes_nothing_anyone_reads(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        (rid,) = store.new_ids(1)
        await store.commit(Changes(runs=[a_run(rid)]))
        seq = store.next_seq
        assert await store.check_writable() is None
        assert store.next_seq == seq
        assert await store.changed_since(0, 10) == [(1, a_run(rid))]
        assert await store.runs(RunQuery()) == [a_run(rid)]
    on_store(open_store, scenario)


def test_closed_is_closed_after_the_commits_asked_for_and_reopens(open_store: StoreOpener) -> None:
    async def scenario(store: Store) -> None:
        ids = store.new_ids(2)
        pending = asyncio.create_task(store.commit(Changes(runs=[a_run(ids[0])])), name="commit:pending")
        await asyncio.sleep(0)  # the commit is asked for: close finishes it first
        await store.close()
        assert await pending == 1
        await store.close()  # closing again is nothing
        refused: dict[str, Callable[[], Any]] = {
            "commit": lambda: store.commit(Changes(runs=[a_run(ids[1])])), "get": lambda: store.get(ids[0]),
            "unfinished": store.unfinished, "runs": lambda: store.runs(RunQuery()), "log": lambda: store.log(ids[0]),
            "cursors": store.cursors, "actions_owed": store.actions_owed,
            "finished_ahead": lambda: store.finished_ahead(T0), "late": lambda: store.late(T0, 1.0, 10),
            "changed_since": lambda: store.changed_since(0, 10), "check_writable": store.check_writable}
        answers = {name: await _answer(call) for name, call in refused.items()}
        assert {name: answer for name, answer in answers.items()
                if not (answer.startswith("StoreError: ") and "is closed" in answer)} == {}
        with pytest.raises(StoreError, match="is closed"):
            store.new_ids(1)
        store = await open_store()
        try:
            assert [r.id for r in await store.unfinished()] == [ids[0]]
            assert store.new_ids(1) == ["r3"]
        finally:
            await store.close()
    on_store(open_store, scenario)


async def _answer(call: Callable[[], Awaitable[Any]]) -> str:
    """What the call raised, as `Type: message`, or what it returned."""
    try:
        return f"returned {await call()!r}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
