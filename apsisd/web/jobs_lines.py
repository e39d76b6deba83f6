"""The jobs page's tree as HTML, made in Python and kept: Jinja2 took 650 ms for 10,000 jobs' lines.

Each job's line is made once per version of the job (as api/job_texts.py keeps JSON texts): what comes before
its last run, and after. A tree (the lines of a list of jobs, in folders) is kept for the last few views asked
for (the jobs loaded, the search, the labels, folders open or not) as its fixed pieces with a slot per job
between them: a request fills in each job's last run (last_html) and joins them. A reload loads a new set of
jobs, and the trees of the old one are no longer asked for.
"""
from __future__ import annotations

import collections
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from markupsafe import escape

from agentd.types import JobId
from apsisd.jobs.model import Job
from apsisd.runs.model import Run
from apsisd.scheduler.last_runs import LastRuns
from apsisd.web.schedule_words import summary

KEPT = 8  # trees kept: the views asked for last
OPEN_UP_TO = 300  # jobs shown: at most this many, every folder starts open; more, only when searching
EVERY = ("", ())  # the view of every job: no search, no label
_NOT_READ = '"><span class="muted" title="its runs from before apsisd started are being read">…</span>'
_NO_RUN = '"><span class="muted">no run yet</span>'


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKS = re.compile(r"(\*\*|__|`|~~)")


def first_line(text: str) -> str:
    """A description's first line as plain text: without heading marks, emphasis, code ticks, or links' targets
    (as the job's page shows it, more or less: a line of a list is no place for Markdown)."""
    line = next((line.strip(" #>-*\t") for line in text.splitlines() if line.strip()), "")
    return _MARKS.sub("", _LINK.sub(r"\1", line))


@dataclass(frozen=True, slots=True)
class _Line:
    job: Job
    parts: tuple[str, ...]  # the id's, split at '/'
    head: str  # up to the last run
    tail: str  # after it


@dataclass(frozen=True, slots=True)
class _Tree:
    source: object  # the set of jobs it was made from
    count: int  # jobs in it
    pieces: list[str]  # one more than the slots: the HTML around them
    slots: list[JobId]  # where each job's last run goes


class Lines:
    def __init__(self) -> None:
        self._made: dict[JobId, _Line] = {}
        self._trees: collections.OrderedDict[Hashable, _Tree] = collections.OrderedDict()
        self._labels: tuple[object, list[tuple[str, int]]] = (None, [])

    def of(self, job: Job) -> _Line:
        kept = self._made.get(job.id)
        if kept is None or kept.job is not job:
            kept = self._made[job.id] = _line(job)
        return kept

    def make(self, jobs: Iterable[Job]) -> None:
        """Make the lines of these jobs ahead of the first request (web/memo.py does, in the background)."""
        for job in jobs:
            self.of(job)

    def warm(self, source: object, jobs: Callable[[], Sequence[Job]], last: LastRuns) -> None:
        """Make the tree of every job ahead of the first request for it (web/memo.py does, in the background)."""
        self.tree(source, EVERY, jobs, lambda count: count <= OPEN_UP_TO, last)

    def labels(self, source: object, jobs: Callable[[], Iterable[Job]]) -> list[tuple[str, int]]:
        """Every label of the jobs of `source` (the jobs loaded), with how many jobs have it, by label. A new
        `source` (after a reload) drops the lines of the jobs it no longer holds."""
        if self._labels[0] is not source:
            every = list(jobs())
            counts = collections.Counter(label for job in every for label in job.metadata.labels)
            self._labels = (source, sorted(counts.items()))
            loaded = {job.id for job in every}
            self._made = {job_id: line for job_id, line in self._made.items() if job_id in loaded}
        return self._labels[1]

    def tree(self, source: object, view: Hashable, pick: Callable[[], Sequence[Job]], open_: Callable[[int], bool],
             last: LastRuns) -> tuple[str, int]:
        """The jobs `pick` gives as nested lists (HTML, and how many jobs), each folder a <details> (open if
        `open_` says so for that many jobs) with its count of jobs, each job with its last run as of now. `pick`
        selects `view` of `source` (the jobs loaded), and is asked only when the tree is not kept."""
        key = (id(source), view)
        made = self._trees.get(key)
        if made is None or made.source is not source:
            jobs = pick()
            made = self._trees[key] = self._build(source, jobs, open_(len(jobs)))
            while len(self._trees) > KEPT:
                self._trees.popitem(last=False)
        else:
            self._trees.move_to_end(key)
        out = [made.pieces[0]]
        of, known = last.of, last.known
        for job_id, piece in zip(made.slots, made.pieces[1:], strict=True):
            out.append(last_html(of(job_id), known(job_id)))
            out.append(piece)
        return "".join(out), made.count  # every value in it is escaped (_line, _build)

    def _build(self, source: object, jobs: Sequence[Job], open_: bool) -> _Tree:
        lines = sorted((self.of(job) for job in jobs), key=lambda line: line.parts)
        counts: collections.Counter[str] = collections.Counter()
        for line in lines:
            for depth in range(1, len(line.parts)):
                counts["/".join(line.parts[:depth])] += 1
        pieces: list[str] = []
        slots: list[JobId] = []
        piece: list[str] = ["<ul>\n"]
        opened: list[str] = []
        shown = " open" if open_ else ""
        for line in lines:
            folder = list(line.parts[:-1])
            while opened and opened != folder[:len(opened)]:
                opened.pop()
                piece.append("</ul></details></li>\n")
            while len(opened) < len(folder):
                opened.append(folder[len(opened)])
                path = "/".join(opened)
                piece.append(f'<li class="folder" data-folder="{escape(path)}"><details{shown}><summary>'
                             f'{escape(opened[-1])}/ <small class="muted">{counts[path]}</small></summary><ul>\n')
            piece.append(line.head)
            pieces.append("".join(piece))
            slots.append(line.job.id)
            piece = [line.tail]
        piece.extend("</ul></details></li>\n" for _ in opened)
        piece.append("</ul>\n")
        pieces.append("".join(piece))
        return _Tree(source=source, count=len(slots), pieces=pieces, slots=slots)


def _line(job: Job) -> _Line:
    path = quote(job.id)
    labels = "".join(f' <a class="tag" href="/jobs?label={quote(label)}">{escape(label)}</a>'
                     for label in job.metadata.labels)
    said = first_line(job.metadata.description)
    head = (f'<li class="job" data-job-id="{escape(job.id)}"><a class="name" href="/jobs/{path}">'
            f'{escape(job.id.rpartition("/")[2])}</a>{labels} <span class="sched muted">{escape(summary(job))}</span>'
            f' <span class="last" data-last-run="')
    tail = (f'</span> <a class="runs" href="/runs?job={path}">runs</a>'
            + (f'<div class="muted small">{escape(said)}</div>' if said else "") + "</li>\n")
    return _Line(job=job, parts=tuple(job.id.split("/")), head=head, tail=tail)


def last_html(run: Run | None, known: bool) -> str:
    """The end of a job's `data-last-run` attribute and what its span shows: the run's state, linked."""
    if run is None:
        return _NO_RUN if known else _NOT_READ
    return (f'{run.id}"><a href="/runs/{run.id}" title="its last run, {run.id}">'
            f'<span class="state state-{run.state}">{run.state}</span></a>')
