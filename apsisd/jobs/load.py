"""Loading a jobs folder: every job file checked, every problem reported; half-loaded only at start (read_jobs).

One `*.yaml` file per job, in any sub-folder; the job id is the file's path
relative to the folder without `.yaml` (`etl/load`, may hold spaces).
Dot-files and dot-folders are skipped (editors' swap files, `.git`);
`*.calendar.yaml` (and `*.calendar`) files are holiday calendars, read by
calendars.load; `*.yml` files are refused rather than silently skipped,
since the operator surely meant them as jobs. Any other file (README.md,
*.example) is ignored.
"""
from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from agentd.types import JobId
from apsisd.calendars.load import is_calendar_file, load_calendars
from apsisd.errors import ApsisError, FileProblem, InvalidFields, InvalidFiles, format_path
from apsisd.jobs import read_ahead
from apsisd.jobs.hosts import LOCAL
from apsisd.jobs.model import Job, JobSet
from apsisd.jobs.parse import JobParser
from apsisd.yaml_source import read_yaml_file

JOB_SUFFIX = ".yaml"
MAX_PROBLEMS = 100  # reported per file

log = logging.getLogger(__name__)


class NoJobsFolder(ApsisError):
    """The jobs folder given is not a folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"{folder}: not a folder of job files")
        self.folder = folder


def load_jobs(folder: Path | str, calendar_folders: Iterable[Path | str] = (),
              host_names: frozenset[str] = frozenset({LOCAL})) -> JobSet:
    """Every job in `folder`, with the holiday calendars of `folder` and `calendar_folders`, each `host:` one of
    `host_names` (the configured hosts and groups, and local).

    InvalidFiles with every problem of the folder (calendars included),
    sorted by file and line, if there is any; NoJobsFolder if `folder` is
    not a folder.
    """
    jobs = read_jobs(folder, calendar_folders, host_names)
    if jobs.problems:
        raise InvalidFiles(list(jobs.problems))
    return jobs


def read_jobs(folder: Path | str, calendar_folders: Iterable[Path | str] = (),
              host_names: frozenset[str] = frozenset({LOCAL})) -> JobSet:
    """Every job in `folder` that loads, and the problems of the rest (sorted by file and line): what apsisd
    starts with, so that one bad file does not stop every job. The ids of the job files with problems are
    `held`; a file no job id can name (`*.yml`, a name that is not UTF-8) and a calendar file are problems only.
    NoJobsFolder if `folder` is not a folder: then there is nothing to schedule."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NoJobsFolder(folder)
    problems: list[FileProblem] = []
    try:
        calendars = load_calendars([folder, *map(Path, calendar_folders)])
    except InvalidFiles as exc:
        problems.extend(exc.problems)
        calendars = {}
    files, refused = job_files(folder)
    problems.extend(FileProblem(str(folder / name), 1, "", message) for name, message in refused)
    jobs: dict[JobId, Job] = {}
    held: set[JobId] = set()
    top = str(folder)
    parser = JobParser(calendars, frozenset(files), host_names)
    # Loading only adds objects that live on; the cyclic collector would scan the growing heap again and
    # again for nothing (a sixth of the time of 100,000 jobs).
    collecting = gc.isenabled()
    gc.disable()
    try:
        for job_id, result in zip(files, _results(top, files, parser), strict=True):
            if isinstance(result, Job):
                jobs[result.id] = result
            else:
                problems.extend(result)
                held.add(JobId(job_id))
    finally:
        if collecting:
            gc.enable()
    return JobSet(jobs=jobs, calendars=calendars, held=frozenset(held),
                  problems=tuple(sorted(problems, key=lambda problem: (problem.file, problem.line))))


def _results(top: str, files: list[str], parser: JobParser) -> Iterator[Job | list[FileProblem]]:
    """load_job() of each of `files`, in order; in a large folder, with helper processes reading the files."""
    helpers = read_ahead.helpers() if len(files) >= read_ahead.MIN_FILES else 0
    if not helpers:
        return (load_job(top, job_id, parser) for job_id in files)
    reads = read_ahead.read_files([job_path(top, job_id) for job_id in files], helpers)
    return (_capped(problems, len(problems), job_path(top, job_id)) if problems is not None
            else _checked(top, job_id, value, parser)
            for job_id, (value, problems) in zip(files, reads, strict=True))


def _checked(top: str, job_id: str, value: Any, parser: JobParser) -> Job | list[FileProblem]:
    """The job from its file's value read by a helper; its problems need the file's lines, so then (rarely) the
    file is loaded again here."""
    try:
        return parser.parse(job_id, value)
    except Exception:  # InvalidFields (or anything else load_job makes a problem of)
        return load_job(top, job_id, parser)


def job_files(folder: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The job ids under `folder`, sorted, and the relative names of the files that cannot be jobs (`*.yml`, a
    name a job id cannot be), each with what to do."""
    # Plain strings rather than Paths: pathlib costs microseconds per file, and a folder may hold 100,000.
    ids, refused = [], []
    top = os.fspath(folder)
    for root, dirs, names in os.walk(top):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        prefix = "" if root == top else os.path.relpath(root, top).replace(os.sep, "/") + "/"
        for name in sorted(names):
            if name.startswith(".") or is_calendar_file(name):
                continue
            if name.endswith(JOB_SUFFIX):
                job_id = prefix + name[:-len(JOB_SUFFIX)]
                if _fit_for_an_id(job_id):
                    ids.append(job_id)
                else:
                    refused.append((ascii(prefix + name)[1:-1], "a job id is its file's path, and this one is not "
                                    "UTF-8 or holds a control character; rename the file"))
            elif name.endswith(".yml"):
                refused.append((prefix + name, f"job files end in .yaml; rename it to "
                                f"{Path(name).with_suffix(JOB_SUFFIX).name} (a .yml file is not read)"))
    return ids, refused


def _fit_for_an_id(job_id: str) -> bool:
    """Whether a path can be a job id: UTF-8 (an undecodable name could not be stored, nor sent as JSON text),
    without control characters (a newline in an id would forge a log line)."""
    return job_id.isprintable() or (not any(char < " " or char == "\x7f" for char in job_id) and _utf8(job_id))


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a byte of the name that is not UTF-8, kept by Python as a lone surrogate
        return False
    return True


def job_path(folder: Path | str, job_id: str) -> str:
    """The file of job `job_id` in `folder`, as messages name it (as str(Path) has it: no ./ for '.')."""
    top = os.fspath(folder)
    return job_id + JOB_SUFFIX if top == "." else os.path.join(top, job_id + JOB_SUFFIX)


def load_job(folder: Path | str, job_id: str, parser: JobParser) -> Job | list[FileProblem]:
    """The job `job_id` of `folder`, or the problems of its file (the first MAX_PROBLEMS).

    Never raises: whatever a file holds, it is its own problem, so one file cannot stop a folder from loading
    (or a reload, or the daemon). An error no check foresaw is a bug, reported as the file's problem and logged
    with its traceback.
    """
    file = job_path(folder, job_id)
    try:
        document = read_yaml_file(file)
        return parser.parse(job_id, document.value)
    except InvalidFiles as exc:
        return _capped(exc.problems, len(exc.problems), file)
    except InvalidFields as exc:
        return _capped([FileProblem(file, document.line(where), format_path(where), message)
                        for where, message in exc.problems[:MAX_PROBLEMS]], len(exc.problems), file)
    except Exception as exc:
        log.error("%s: reading it failed", file, exc_info=True, extra={"action": "job_file_failed"})
        return [FileProblem(file, 1, "", f"cannot be read ({type(exc).__name__}); this is a bug in apsis: "
                                         "please report it with the file")]


def _capped(problems: list[FileProblem], total: int, file: str) -> list[FileProblem]:
    """The first MAX_PROBLEMS of a file's `total` problems, then one saying how many more there are (a file
    of 100,000 unknown keys would flood the log, and finding each one's line costs a look through the file)."""
    shown = problems[:MAX_PROBLEMS]
    if total > len(shown):
        shown.append(FileProblem(file, shown[-1].line, "", f"and {total - len(shown)} more problems in this file"))
    return shown
