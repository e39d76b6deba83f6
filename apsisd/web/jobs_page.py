"""/jobs: the jobs folder as a tree of folders (each a <details>), searched (`?q=`, a piece of the id or the
description) and filtered by labels (`?label=`, several: jobs with all), each job with its schedules in words, its
last run's state (kept live by static/jobs.js) and a link to its runs. Typing in the search box filters the
tree at once in the browser; the form's submit asks the server (the same filter, on the whole description).

Built for 10,000 jobs: the tree is a flat list of rows made here in one pass (no recursion in the template),
and the last runs are read from memory (web/memo.py), not the store.
"""
from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from apsisd.api.state import scheduler_of
from apsisd.jobs.model import Job
from apsisd.runs.model import Run
from apsisd.scheduler.last_runs import LastRuns
from apsisd.web import memo
from apsisd.web.render import page
from apsisd.web.schedule_words import summary

routes = web.RouteTableDef()
OPEN_UP_TO = 300  # jobs shown: at most this many, every folder starts open; more, only when searching
SEARCHED = 1000  # characters of a description the browser's instant filter looks in


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the tree: a folder opening (`folder`, with its job count), a folder closing, or a job."""

    kind: str  # "open", "close", "job"
    name: str = ""  # the last part of the folder's or job's id
    path: str = ""  # the folder's path
    count: int = 0
    job: Job | None = None
    schedules: str = ""
    text: str = ""  # what the browser's filter looks in (lower case)
    last: Run | None = None
    known: bool = True


def select(jobs: Iterable[Job], q: str) -> list[Job]:
    """The jobs whose id or description holds `q`, in any case ('' holds every job)."""
    needle = q.casefold()
    if not needle:
        return list(jobs)
    return [job for job in jobs if needle in job.id.casefold() or needle in job.metadata.description.casefold()]


def tree(jobs: Sequence[Job], last: LastRuns) -> list[Row]:
    """The jobs (sorted by id) as rows of a tree: each folder's rows between its opening and closing."""
    ordered = sorted(jobs, key=lambda job: job.id.split("/"))
    counts: collections.Counter[str] = collections.Counter()
    for job in ordered:
        parts = job.id.split("/")
        for depth in range(1, len(parts)):
            counts["/".join(parts[:depth])] += 1
    rows: list[Row] = []
    opened: list[str] = []
    for job in ordered:
        parts = job.id.split("/")
        folder = parts[:-1]
        while opened and opened != folder[:len(opened)]:
            opened.pop()
            rows.append(Row("close"))
        while len(opened) < len(folder):
            opened.append(folder[len(opened)])
            path = "/".join(opened)
            rows.append(Row("open", name=opened[-1], path=path, count=counts[path]))
        description = job.metadata.description
        rows.append(Row("job", name=parts[-1], job=job, schedules=summary(job),
                        text=f"{job.id} {description[:SEARCHED]}".casefold(), last=last.of(job.id),
                        known=last.known(job.id)))
    rows.extend(Row("close") for _ in opened)
    return rows


def first_line(text: str) -> str:
    return next((line.strip(" #") for line in text.splitlines() if line.strip()), "")


@routes.get("/jobs")
async def jobs(request: web.Request) -> web.Response:
    scheduler = scheduler_of(request)
    q = request.query.get("q", "").strip()
    labels = list(dict.fromkeys(label for label in request.query.getall("label", []) if label))
    shown = select(scheduler.jobs.select(None, labels), q)
    memo.read_older(request.app)
    every = collections.Counter(label for job in scheduler.jobs.jobs.values() for label in job.metadata.labels)

    def url(*, add: str | None = None, drop: str | None = None, search: str | None = q) -> str:
        wanted = [label for label in labels if label != drop] + ([add] if add and add not in labels else [])
        query = ([("q", search)] if search else []) + [("label", label) for label in wanted]
        return "/jobs" + (f"?{urlencode(query)}" if query else "")

    return page(request, "jobs.html", rows=tree(shown, memo.last_runs(request.app)), q=q, labels=labels,
                url=url, adding={label: url(add=label) for label in every}, shown=len(shown),
                total=len(scheduler.jobs.jobs), every=sorted(every.items()),
                open=bool(q or labels) or len(shown) <= OPEN_UP_TO, first_line=first_line,
                problems=len(scheduler.jobs.problems), held=sorted(scheduler.jobs.held))
