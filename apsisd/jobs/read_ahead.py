"""Reading a large jobs folder's files in helper processes while this one checks the jobs.

Reading a job file and composing its YAML is half the cost of loading a
job; the other half, checking it, needs this process's state (the folder's
schedules, calendars and job ids). Helpers do the first half for 250 files
at a time and send back each file's plain value (dicts, lists, text,
numbers) through marshal, 4 µs a job: sending Job objects instead costs
more to unpickle (40-55 µs) than it saves. This process checks the values
in order as they come. On two CPUs a folder of 100,000 jobs loads in half
the time. A helper that cannot start or dies leaves its files to this
process, so the result never depends on the helpers.
"""
from __future__ import annotations

import marshal
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from apsisd.errors import FileProblem, InvalidFiles
from apsisd.yaml_source import read_yaml_file

HELPERS = 2  # with this process checking, two keep it busy (one leaves it waiting a fifth of the time)
CHUNK = 250  # files per request: sending costs nothing next to reading them, and the first comes back at once
MIN_FILES = 5000  # below this, starting the helpers (a fresh interpreter each) costs more than they save

Read = tuple[Any, list[FileProblem] | None]  # a file's value, or its problems


def helpers() -> int:
    """How many helper processes to use: none with one CPU, as they would only take turns with this one."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(HELPERS, cpus) if cpus > 1 else 0


def read_files(files: Sequence[str], helpers: int) -> Iterator[Read]:
    """(value, None) for each file read, or (None, its problems), in order, read by `helpers` processes."""
    chunks = [files[start:start + CHUNK] for start in range(0, len(files), CHUNK)]
    # A fresh interpreter for each helper, not a fork: this process may have threads (the daemon's).
    pool = ProcessPoolExecutor(max_workers=helpers, mp_context=multiprocessing.get_context("spawn"))
    futures: list[Future[bytes]] = []
    try:
        try:
            futures.extend(pool.submit(_read_chunk, chunk) for chunk in chunks)
        except Exception:  # the pool cannot take work: what was not sent is read here
            pass
        for index, chunk in enumerate(chunks):
            try:
                found = marshal.loads(futures[index].result())
            except Exception:  # a helper could not start or died, or was never asked: read it here
                found = [_read(file) for file in chunk]
            for value, problems in found:
                yield value, None if problems is None else [FileProblem(*problem) for problem in problems]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _read_chunk(files: Sequence[str]) -> bytes:
    """What a helper does: read each file, as marshal data."""
    return marshal.dumps([_read(file) for file in files])


def _read(file: str) -> tuple[Any, list[tuple[str, int, str, str]] | None]:
    try:
        return read_yaml_file(file).value, None
    except InvalidFiles as exc:
        return None, [(problem.file, problem.line, problem.field, problem.message) for problem in exc.problems]
