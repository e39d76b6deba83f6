"""SqliteStore: the Store over one SQLite file in WAL mode, worked by one thread of its own.

Apsis kept one connection on the event-loop thread, so every write stalled
the scheduler. Here one thread owns the connection and does all SQLite work;
the loop only hands it jobs and awaits their futures. Commits are grouped:
the changes that arrive while a transaction is being written go together
into the next one, so a burst of thousands of commits costs a few
transactions; if one caller's changes fail, the rest are written again each
in a savepoint, so the bad changes fail their caller alone.
synchronous=FULL in WAL mode: a commit is on the disk when it returns, so
it survives the machine losing power as well as apsisd being killed; the
fsync it costs is paid once per grouped transaction, not per commit.

Run numbers come from memory (new_ids is synchronous); the high-water mark
is written in meta by the next transaction, with the runs that use it, so
no number of a committed run is ever handed out again, even after a crash.
Sequence numbers likewise: commit() gives each run row it writes (and each
run it deletes, kept as a tombstone) the next one, in the order the commits
were asked for, which is the order they are written in; the live stream
resumes from them (changed_since).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from agentd.types import JobId, RunId
from apsisd.errors import StoreError, UnknownRun
from apsisd.runs.model import LogEntry, Run, run_id
from apsisd.runs.state import FINISHED, State
from apsisd.store import codec
from apsisd.store.base import Changes, RunQuery
from apsisd.store.migrate import Migration, available, check_not_newer, migrate
from apsisd.store.query import BEFORE_TIME, SELECT_RUNS, SPAN, runs_plan

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a write waits for another process's lock (a write from the sqlite3 shell, say) before it fails.
BUSY_TIMEOUT = 10.0
CACHE_KIB = 32 * 1024
# No ANALYZE statistics are kept: without them the planner picks the indexes the queries were written for
# (tests/unit/store/test_sqlite_store.py checks the plans), whatever the history's size or shape.
_UNFINISHED = "state NOT IN ('success', 'failure', 'error', 'skipped')"  # as in the partial index runs_unfinished

_WRITTEN = (*codec.RUN_COLUMNS, "seq")
_UPSERT_RUN = (
    f"INSERT INTO runs ({', '.join(_WRITTEN)}) VALUES ({', '.join('?' * len(_WRITTEN))}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _WRITTEN[1:])}"
)
# A run's args, one row each (m0006), rewritten only if they changed (they do not: no write).
_UPSERT_ARGS = ("INSERT INTO run_args (run, name, value, due, job) SELECT ?, key, value, ?, ? FROM json_each(?) "
                "WHERE true ON CONFLICT (run, name) DO UPDATE SET value = excluded.value, due = excluded.due, "
                "job = excluded.job WHERE value != excluded.value OR due != excluded.due OR job != excluded.job")
_CHANGED_RUNS = f"SELECT seq, {', '.join(codec.READ_COLUMNS)} FROM runs WHERE seq > ? ORDER BY seq LIMIT ?"
# Through the index of schedule_time ('+state' keeps the planner off the state index: every finished run ever).
_FINISHED_AHEAD = (f"{SELECT_RUNS} WHERE schedule_time >= ? AND +state IN "
                   f"({', '.join(repr(str(state)) for state in sorted(FINISHED))}) ORDER BY schedule_time")
_LATE = f"{SELECT_RUNS} WHERE schedule_time >= ? AND lateness > ? ORDER BY schedule_time DESC LIMIT ?"
_TOMBSTONES = "SELECT seq, run_id FROM run_tombstones WHERE seq > ? AND seq <= ? ORDER BY seq"
_INSERT_LOG = f"INSERT INTO run_log ({', '.join(codec.LOG_COLUMNS)}) VALUES (?, ?, ?, ?)"
_SELECT_LOG = f"SELECT {', '.join(codec.LOG_COLUMNS)} FROM run_log WHERE run_id = ? ORDER BY rowid"
_SET_CURSOR = "INSERT INTO cursors (job_id, time) VALUES (?, ?) ON CONFLICT (job_id) DO UPDATE SET time = excluded.time"

_Pending = tuple[Changes, int, "asyncio.Future[None]"]  # the changes, the seq of their first row, the waiter


class SqliteStore:
    """The Store protocol over SQLite; make one with `await SqliteStore.open(path)`, use it on that loop."""

    def __init__(self, *, path: Path, executor: ThreadPoolExecutor, conn: sqlite3.Connection, counters: _Counters,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._path = path
        self._executor = executor
        self._conn = conn  # used on the executor's thread only
        self._loop = loop
        self._next = counters.next_run  # the next run number new_ids gives (loop thread)
        self._persisted = counters.stored_run  # the next_run stored in meta (store thread)
        self._next_seq = counters.next_seq  # the next sequence number commit gives (loop thread)
        self._persisted_seq = counters.stored_seq  # the next_seq stored in meta (store thread)
        self._lock = threading.Lock()  # guards _pending and _flush_queued
        self._pending: list[_Pending] = []
        self._flush_queued = False
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating the folder, mode 0750 less the umask, and the file, mode 0600, if missing) and migrate;
        StoreError if it cannot."""
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apsis-store")
        try:
            conn, counters = await loop.run_in_executor(executor, _connect, path, available())
        except BaseException:
            executor.shutdown(wait=False)
            raise
        log.info("store %s open; next run r%d", path, counters.next_run, extra={"action": "store_opened"})
        return cls(path=path, executor=executor, conn=conn, counters=counters, loop=loop)

    def new_ids(self, count: int) -> list[RunId]:
        """`count` fresh ids from memory; stored with the next commit, before any run that uses them is."""
        self._check_open()
        if count < 0:
            raise ValueError(f"count must be at least 0, not {count}")
        first = self._next
        self._next += count
        return [run_id(number) for number in range(first, first + count)]

    @property
    def next_seq(self) -> int:
        """The sequence number the next run written will get: every change so far has a lower one."""
        return self._next_seq

    async def commit(self, changes: Changes) -> int:
        """Write `changes` in one transaction, grouped with others that wait; returns once it is committed.

        Returns the sequence number of its first row: `changes.runs` have it
        and the next ones in order, then `changes.deleted`. StoreError (the
        cause kept) if nothing of `changes` was written. Being cancelled does
        not withdraw the changes: they may still be committed.
        """
        self._check_open()
        for run in changes.runs:  # runs numbered by someone else: new_ids must not give their numbers again
            number = codec.number_of(run.id)
            if number is not None and number >= self._next:
                self._next = number + 1
        first = self._next_seq
        self._next_seq += len(changes.runs) + len(changes.deleted)
        done: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            self._pending.append((changes, first, done))
            start, self._flush_queued = not self._flush_queued, True
        if start:
            self._executor.submit(self._flush)
        await done
        return first

    async def get(self, run_id: RunId) -> Run:
        return await self._call(self._get, run_id)

    async def unfinished(self) -> list[Run]:
        return await self._call(self._select, f"{SELECT_RUNS} WHERE {_UNFINISHED} ORDER BY id", ())

    async def runs(self, query: RunQuery) -> list[Run]:
        return await self._call(self._runs, query)

    async def log(self, run_id: RunId) -> list[LogEntry]:
        return await self._call(self._log, run_id)

    async def cursors(self) -> dict[JobId, datetime]:
        return await self._call(self._cursors)

    async def actions_owed(self) -> list[tuple[RunId, State, frozenset[int]]]:
        return await self._call(self._actions_owed)

    async def changed_since(self, seq: int, limit: int) -> list[tuple[int, Run | RunId]]:
        return await self._call(self._changed_since, seq, limit)

    async def finished_ahead(self, since: datetime) -> list[Run]:
        return await self._call(self._select, _FINISHED_AHEAD, (codec.encode_time(since, "since"),))

    async def late(self, since: datetime, threshold: float, limit: int) -> list[Run]:
        return await self._call(self._select, _LATE, (codec.encode_time(since, "since"), threshold, limit))

    async def check_writable(self) -> None:
        self._check_open()
        await self._loop.run_in_executor(self._executor, self._check_writable)

    async def close(self) -> None:
        """Finish the writes already asked for, then close the file (its WAL is folded in and removed)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._loop.run_in_executor(self._executor, self._conn.close)
        finally:
            self._executor.shutdown(wait=False)

    # The rest runs on the store's thread.

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._flush_queued = False
        try:
            errors = self._write(batch)
        except Exception as exc:  # even the rollback failed: the connection is unusable
            errors = [self._error("the changes were not written", exc) for _ in batch]
        try:
            self._loop.call_soon_threadsafe(_settle, [done for _, _, done in batch], errors)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def _write(self, batch: list[_Pending]) -> list[StoreError | None]:
        """Write the batch in one transaction; each changes' error (its writes undone) or None."""
        conn = self._conn
        updated = datetime.now(UTC)  # when the rows were written: the wall clock, not the scheduler's
        high = self._next  # read after the batch was taken: above every number it can hold
        high_seq = max((first + len(changes.runs) + len(changes.deleted) for changes, first, _ in batch), default=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            errors = self._apply_all(batch, updated)
            if high > self._persisted:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'next_run'", (high,))
            if high_seq > self._persisted_seq:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (high_seq,))
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [self._error("the changes were not written", exc) for _ in batch]
        self._persisted = max(self._persisted, high)
        self._persisted_seq = max(self._persisted_seq, high_seq)
        return errors

    def _apply_all(self, batch: list[_Pending], updated: datetime) -> list[StoreError | None]:
        """Every changes of the batch; if one fails, all again, each in a savepoint, so that it fails alone.

        A savepoint per changes costs as much as its writes: it is paid only when something failed.
        """
        conn = self._conn
        conn.execute("SAVEPOINT batch")
        try:
            for changes, first, _ in batch:
                self._apply(changes, first, updated)
            return [None] * len(batch)
        except Exception as exc:
            conn.execute("ROLLBACK TO batch")
            if len(batch) == 1:
                return [self._error("the changes were not written", exc)]
        finally:
            conn.execute("RELEASE batch")
        errors: list[StoreError | None] = []
        for changes, first, _ in batch:
            conn.execute("SAVEPOINT changes")
            try:
                self._apply(changes, first, updated)
                errors.append(None)
            except Exception as exc:
                conn.execute("ROLLBACK TO changes")
                errors.append(self._error("the changes were not written", exc))
            conn.execute("RELEASE changes")
        return errors

    def _apply(self, changes: Changes, first: int, updated: datetime) -> None:
        conn = self._conn
        if changes.runs:
            rows = [codec.encode_run(run, updated) for run in changes.runs]
            conn.executemany(_UPSERT_RUN, [(*row, first + index) for index, row in enumerate(rows)])
            conn.executemany(_UPSERT_ARGS, [(row[0], row[4], row[1], row[2]) for row in rows if row[2] != "{}"])
        if changes.log:
            conn.executemany(_INSERT_LOG, [codec.encode_log(entry) for entry in changes.log])
        if changes.deleted:
            gone = [codec.encode_id(run) for run in changes.deleted]
            conn.executemany("DELETE FROM runs WHERE id = ?", [(number,) for number in gone])
            after = first + len(changes.runs)
            conn.executemany("INSERT INTO run_tombstones (seq, run_id) VALUES (?, ?)",
                             [(after + index, number) for index, number in enumerate(gone)])
        if changes.cursors:
            cursors = changes.cursors.items()
            conn.executemany(_SET_CURSOR, [(job, codec.encode_time(time, f"cursor of {job}"))
                                           for job, time in cursors if time is not None])
            conn.executemany("DELETE FROM cursors WHERE job_id = ?", [(job,) for job, time in cursors if time is None])
        if changes.actions_owed:
            conn.executemany("INSERT OR IGNORE INTO pending_actions (run_id, state) VALUES (?, ?)",
                             [(codec.encode_id(run), str(state)) for run, state in changes.actions_owed])
        if changes.actions_ran:
            conn.executemany("INSERT OR IGNORE INTO actions_ran (run_id, state, action) VALUES (?, ?, ?)",
                             [(codec.encode_id(run), str(state), action) for run, state, action in changes.actions_ran])
        if changes.actions_done:
            done = [(codec.encode_id(run), str(state)) for run, state in changes.actions_done]
            conn.executemany("DELETE FROM pending_actions WHERE run_id = ? AND state = ?", done)
            conn.executemany("DELETE FROM actions_ran WHERE run_id = ? AND state = ?", done)

    def _check_writable(self) -> None:
        """meta's `checked` set to now, in a transaction of its own (the connection is in autocommit mode)."""
        try:
            self._conn.execute("INSERT INTO meta (key, value) VALUES ('checked', ?) ON CONFLICT (key) DO UPDATE "
                               "SET value = excluded.value", (datetime.now(UTC).isoformat(),))
        except sqlite3.Error as exc:
            raise self._error("cannot write", exc) from exc

    def _get(self, run: RunId) -> Run:
        number = codec.number_of(run)
        row = None if number is None else self._conn.execute(f"{SELECT_RUNS} WHERE id = ?", (number,)).fetchone()
        if row is None:
            raise UnknownRun(run)
        return codec.decode_run(row)

    def _runs(self, query: RunQuery) -> list[Run]:
        return [codec.decode_run(row) for row in select_runs(self._conn, query)]

    def _select(self, sql: str, params: Sequence[Any]) -> list[Run]:
        return [codec.decode_run(row) for row in self._conn.execute(sql, params)]

    def _log(self, run: RunId) -> list[LogEntry]:
        number = codec.number_of(run)
        if number is None or self._conn.execute("SELECT 1 FROM runs WHERE id = ?", (number,)).fetchone() is None:
            raise UnknownRun(run)
        rows = self._conn.execute(_SELECT_LOG, (number,))
        return [codec.decode_log(row) for row in rows]

    def _changed_since(self, seq: int, limit: int) -> list[tuple[int, Run | RunId]]:
        """The runs written after `seq` (each once, as it is now) and the runs deleted after it, in seq order;
        at most `limit` runs, and the deletions up to the last of them (all, if fewer came)."""
        runs = [(row[0], codec.decode_run(row[1:])) for row in self._conn.execute(_CHANGED_RUNS, (seq, limit))]
        upto = runs[-1][0] if len(runs) == limit else self._next_seq
        gone: list[tuple[int, Run | RunId]] = [(number, run_id(victim)) for number, victim in
                                               self._conn.execute(_TOMBSTONES, (seq, upto))]
        return sorted([*runs, *gone], key=lambda change: change[0])

    def _actions_owed(self) -> list[tuple[RunId, State, frozenset[int]]]:
        ran: dict[tuple[int, str], set[int]] = {}
        for number, state, action in self._conn.execute("SELECT run_id, state, action FROM actions_ran"):
            ran.setdefault((number, state), set()).add(action)
        rows = self._conn.execute("SELECT run_id, state FROM pending_actions ORDER BY run_id")
        return [(run_id(number), State(state), frozenset(ran.get((number, state), ()))) for number, state in rows]

    def _cursors(self) -> dict[JobId, datetime]:
        rows = self._conn.execute("SELECT job_id, time FROM cursors")
        return {JobId(job): codec.decode_time(time) for job, time in rows}

    async def _call(self, work: Callable[..., T], *args: Any) -> T:
        self._check_open()
        return await self._loop.run_in_executor(self._executor, self._guarded, work, args)

    def _guarded(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return work(*args)
        except sqlite3.Error as exc:
            raise self._error("could not read", exc) from exc

    def _error(self, what: str, exc: Exception) -> StoreError:
        if isinstance(exc, StoreError):
            error = StoreError(str(exc))
        else:
            error = StoreError(f"state database {self._path}: {what}: {exc}")
        error.__cause__ = exc
        return error

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"state database {self._path} is closed")


def select_runs(conn: sqlite3.Connection, query: RunQuery) -> list[tuple[Any, ...]]:
    """The rows of `query`: the walk, if it fills the page or reaches the end, else the driven query (query.py)."""
    before_time = None
    if query.order == "time" and query.before is not None:
        found = conn.execute(BEFORE_TIME, (codec.encode_id(query.before),)).fetchone()
        before_time = None if found is None else found[0]
    plan = runs_plan(query, before_time)
    if plan is None:
        return []
    if plan.open_until:
        first, last, start = conn.execute(SPAN, (codec.encode_id(query.before or RunId("r1")),)).fetchone()
        chosen = plan.choose_walk(start if query.before and start is not None else last or 0, first or 0)
        if isinstance(chosen, tuple):
            (newest,) = conn.execute(*chosen).fetchone()
            if newest is None:
                return []
            chosen = plan.walk_from(newest)
        plan = chosen
    if plan.walks:
        edge_sql = plan.edge()
        edge = None if edge_sql is None else conn.execute(*edge_sql).fetchone()
        rows: list[tuple[Any, ...]] = conn.execute(*plan.walk(edge)).fetchall()
        if edge is None or len(rows) >= query.limit:
            return rows
    indexed = plan.indexed()
    assert indexed is not None
    return conn.execute(*indexed).fetchall()


def _settle(futures: list[asyncio.Future[None]], errors: list[StoreError | None]) -> None:
    for done, error in zip(futures, errors, strict=True):
        if done.done():  # its caller was cancelled
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Counters:
    """Where run numbers and sequence numbers go on: as meta has them, and the next to give (above every row)."""

    stored_run: int
    next_run: int
    stored_seq: int
    next_seq: int


def _keep_private(path: Path) -> None:
    """The database made (empty: SQLite takes it as new) or kept mode 0600, and its -wal and -shm if they are
    there: the runs' args and logs are apsisd's, whatever the umask. SQLite gives the -wal and -shm it makes the
    database's mode."""
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for each in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(each.stat().st_mode) != 0o600:
                each.chmod(0o600)


def _connect(path: Path, migrations: Sequence[Migration]) -> tuple[sqlite3.Connection, _Counters]:
    """The connection, set up and migrated, and its counters; on the store's thread."""
    try:
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        _keep_private(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"state database {path}: cannot open it: {exc}") from exc
    try:
        check_not_newer(conn, path, migrations)  # the first read: a file that is no database fails here
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"state database {path}: cannot use WAL mode (got {mode!r}); "
                             "put the state folder on a local file system")
        for pragma in ("synchronous = FULL", "foreign_keys = ON", f"cache_size = -{CACHE_KIB}"):
            conn.execute(f"PRAGMA {pragma}")
        migrate(conn, path, migrations)
        stored, top, stored_seq, top_seq = conn.execute(
            "SELECT (SELECT value FROM meta WHERE key = 'next_run'), (SELECT max(id) FROM runs), "
            "(SELECT value FROM meta WHERE key = 'next_seq'), "
            "max(coalesce((SELECT max(seq) FROM runs), 0), coalesce((SELECT max(seq) FROM run_tombstones), 0))"
        ).fetchone()
        return conn, _Counters(stored_run=int(stored), next_run=max(int(stored), (top or 0) + 1),
                               stored_seq=int(stored_seq), next_seq=max(int(stored_seq), top_seq + 1))
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.DatabaseError) and exc.sqlite_errorname in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            raise StoreError(f"state database {path} is not an SQLite database, or it is damaged ({exc}); "
                             "move it away to start with an empty store, or restore a backup") from exc
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"state database {path}: cannot use it: {exc}") from exc
        raise
