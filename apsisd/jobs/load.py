"""Loading a jobs folder: every job file checked, every problem reported, nothing half-loaded.

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
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from apsisd.calendars.load import is_calendar_file, load_calendars
from apsisd.errors import ApsisError, FileProblem, InvalidFields, InvalidFiles, format_path
from apsisd.jobs import read_ahead
from apsisd.jobs.model import Job, JobSet
from apsisd.jobs.parse import JobParser
from apsisd.yaml_source import read_job_file
from apsisd.types import JobId

JOB_SUFFIX = ".yaml"


class NoJobsFolder(ApsisError):
    """The jobs folder given is not a folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"{folder}: not a folder of job files")
        self.folder = folder


def load_jobs(folder: Path | str, calendar_folders: Iterable[Path | str] = ()) -> JobSet:
    """Every job in `folder`, with the holiday calendars of `folder` and `calendar_folders`.

    InvalidFiles with every problem of the folder (calendars included),
    sorted by file and line, if there is any; NoJobsFolder if `folder` is
    not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NoJobsFolder(folder)
    problems: list[FileProblem] = []
    try:
        calendars = load_calendars([folder, *map(Path, calendar_folders)])
    except InvalidFiles as exc:
        problems.extend(exc.problems)
        calendars = {}
    files, misnamed = job_files(folder)
    problems.extend(FileProblem(str(folder / name), 1, "", f"job files end in .yaml; rename it to "
                                f"{Path(name).with_suffix(JOB_SUFFIX).name} (a .yml file is not read)")
                    for name in misnamed)
    jobs: dict[JobId, Job] = {}
    top = str(folder)
    parser = JobParser(calendars, frozenset(files))
    # Loading only adds objects that live on; the cyclic collector would scan the growing heap again and
    # again for nothing (a sixth of the time of 100,000 jobs).
    collecting = gc.isenabled()
    gc.disable()
    try:
        for result in _results(top, files, parser):
            if isinstance(result, Job):
                jobs[result.id] = result
            else:
                problems.extend(result)
    finally:
        if collecting:
            gc.enable()
    if problems:
        raise InvalidFiles(sorted(problems, key=lambda problem: (problem.file, problem.line)))
    return JobSet(jobs=jobs, calendars=calendars)


def _results(top: str, files: list[str], parser: JobParser) -> Iterator[Job | list[FileProblem]]:
    """load_job() of each of `files`, in order; in a large folder, with helper processes reading the files."""
    helpers = read_ahead.helpers() if len(files) >= read_ahead.MIN_FILES else 0
    if not helpers:
        return (load_job(top, job_id, parser) for job_id in files)
    reads = read_ahead.read_files([job_path(top, job_id) for job_id in files], helpers)
    return (problems if problems is not None else _checked(top, job_id, value, parser)
            for job_id, (value, problems) in zip(files, reads, strict=True))


def _checked(top: str, job_id: str, value: Any, parser: JobParser) -> Job | list[FileProblem]:
    """The job from its file's value read by a helper; its problems need the file's lines, so then (rarely) the
    file is loaded again here."""
    try:
        return parser.parse(job_id, value)
    except (InvalidFields, InvalidFiles):
        return load_job(top, job_id, parser)


def job_files(folder: Path) -> tuple[list[str], list[str]]:
    """The job ids under `folder`, sorted, and the relative names of any `*.yml` files."""
    # Plain strings rather than Paths: pathlib costs microseconds per file, and a folder may hold 100,000.
    ids, misnamed = [], []
    top = os.fspath(folder)
    for root, dirs, names in os.walk(top):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        prefix = "" if root == top else os.path.relpath(root, top).replace(os.sep, "/") + "/"
        for name in sorted(names):
            if name.startswith(".") or is_calendar_file(name):
                continue
            if name.endswith(JOB_SUFFIX):
                ids.append(prefix + name[:-len(JOB_SUFFIX)])
            elif name.endswith(".yml"):
                misnamed.append(prefix + name)
    return ids, misnamed


def job_path(folder: Path | str, job_id: str) -> str:
    """The file of job `job_id` in `folder`, as messages name it (as str(Path) has it: no ./ for '.')."""
    top = os.fspath(folder)
    return job_id + JOB_SUFFIX if top == "." else os.path.join(top, job_id + JOB_SUFFIX)


def load_job(folder: Path | str, job_id: str, parser: JobParser) -> Job | list[FileProblem]:
    """The job `job_id` of `folder`, or every problem of its file."""
    file = job_path(folder, job_id)
    try:
        document = read_job_file(file)
        return parser.parse(job_id, document.value)
    except InvalidFiles as exc:
        return exc.problems
    except InvalidFields as exc:
        return [FileProblem(file, document.line(where), format_path(where), message)
                for where, message in exc.problems]
