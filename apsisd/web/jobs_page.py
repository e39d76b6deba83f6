"""/jobs: the jobs folder as a tree of folders (each a <details>), searched (`?q=`, a piece of the id or the
description) and filtered by labels (`?label=`, several: jobs with all), each job with its schedules in words, its
last run's state (kept live by static/jobs.js) and a link to its runs. Typing in the search box filters the
tree at once in the browser (on the id and the description's first line); the form's button asks the server,
which looks in the whole description.

Built for 10,000 jobs: the tree's HTML is made and kept by web/jobs_lines.py, and the last runs come from
memory (web/memo.py), not the store.
"""
from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from aiohttp import web

from apsisd.api.state import scheduler_of
from apsisd.jobs.model import Job
from apsisd.web import memo
from apsisd.web.jobs_lines import OPEN_UP_TO
from apsisd.web.render import page

routes = web.RouteTableDef()


def select(jobs: Iterable[Job], q: str) -> list[Job]:
    """The jobs whose id or description holds `q`, in any case ('' holds every job)."""
    needle = q.casefold()
    if not needle:
        return list(jobs)
    return [job for job in jobs if needle in job.id.casefold() or needle in job.metadata.description.casefold()]


@routes.get("/jobs")
async def jobs(request: web.Request) -> web.Response:
    scheduler = scheduler_of(request)
    seq = scheduler.records.feed.last  # before the last runs are read: what changes after is followed live
    q = request.query.get("q", "").strip()
    labels = list(dict.fromkeys(label for label in request.query.getall("label", []) if label))
    memo.read_older(request.app)
    lines = memo.lines(request.app)
    loaded = scheduler.jobs
    every = lines.labels(loaded, loaded.jobs.values)

    def url(*, add: str | None = None, drop: str | None = None) -> str:
        wanted = [label for label in labels if label != drop] + ([add] if add and add not in labels else [])
        query = ([("q", q)] if q else []) + [("label", label) for label in wanted]
        return "/jobs" + (f"?{urlencode(query)}" if query else "")

    tree, shown = lines.tree(loaded, (q, tuple(labels)), lambda: select(loaded.select(None, labels), q),
                             lambda count: bool(q or labels) or count <= OPEN_UP_TO, memo.last_runs(request.app))
    return page(request, "jobs.html", seq=seq, spliced=tree, empty=not shown, q=q, labels=labels, url=url,
                adding={label: url(add=label) for label, _ in every}, shown=shown, total=len(loaded.jobs),
                every=every, problems=len(loaded.problems), held=sorted(loaded.held))
