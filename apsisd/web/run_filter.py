"""The runs page's filters, as its URL holds them: read from a query string, turned into a RunQuery, written back
into links (the next page, a column's value as a filter), so that every view of the page is a URL to share.

A filter left empty in the form is no filter. A time range (since, until) is always shown by schedule time. A
value that cannot be used is not a 400 here: the page shows what is wrong with which field, beside the form, and
lists nothing rather than the wrong runs. Instants are ISO 8601; one without an offset (a browser's date-time
field gives none) is read as UTC, as the page says.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlencode

from agentd.types import JobId, RunId
from apsisd.api.routes.runs import RUN_ID
from apsisd.jobs.model import JobSet
from apsisd.runs.model import Origin
from apsisd.runs.state import State
from apsisd.store.base import RunQuery

PAGE_SIZES = (50, 100, 500)
Order = Literal["id", "time"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFilter:
    job: str = ""
    path: str = ""
    args: tuple[str, ...] = ()  # NAME=VALUE each
    states: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    order: Order = "id"
    limit: int = 100
    before: str = ""
    problems: tuple[str, ...] = field(default=(), compare=False)

    def url(self, **changes: object) -> str:
        """/runs with these filters (and `changes`), empty ones left out: a page's link."""
        changed = replace(self, **changes)  # type: ignore[arg-type]
        pairs: list[tuple[str, str]] = []
        for name in ("job", "path", "since", "until", "before"):
            if getattr(changed, name):
                pairs.append((name, getattr(changed, name)))
        for name, values in (("arg", changed.args), ("state", changed.states), ("label", changed.labels),
                             ("origin", changed.origins), ("host", changed.hosts)):
            pairs.extend((name, value) for value in values)
        if changed.order != "id":
            pairs.append(("order", changed.order))
        if changed.limit != 100:
            pairs.append(("limit", str(changed.limit)))
        return "/runs" + (f"?{urlencode(pairs)}" if pairs else "")

    @property
    def since_at(self) -> datetime | None:
        return _instant(self.since)

    @property
    def until_at(self) -> datetime | None:
        return _instant(self.until)

    @property
    def first_page(self) -> bool:
        return not self.before

    def query(self, jobs: JobSet) -> RunQuery | None:
        """What the store is asked; None when the filters cannot be used (see problems) or match no job."""
        if self.problems:
            return None
        args = dict(arg.split("=", 1) for arg in self.args)
        job_ids = frozenset(job.id for job in jobs.select(labels=self.labels)) if self.labels else None
        return RunQuery(job_id=JobId(self.job) if self.job else None, job_prefix=self.path or None, job_ids=job_ids,
                        args=args or None, states=frozenset(State(state) for state in self.states) or None,
                        origins=frozenset(Origin(origin) for origin in self.origins) or None,
                        hosts=frozenset(self.hosts) or None, since=self.since_at, until=self.until_at,
                        order=self.order, before=RunId(self.before) if self.before else None, limit=self.limit)


def read(query: Mapping[str, str], getall: Mapping[str, list[str]]) -> RunFilter:
    """The filters of a query string (`query`: each name's first value; `getall`: every value of each name)."""
    problems: list[str] = []

    def values(name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value.strip() for value in getall.get(name, []) if value.strip()))

    def text(name: str) -> str:
        return (query.get(name) or "").strip()

    args = values("arg")
    for arg in args:
        name, equals, _ = arg.partition("=")
        if not name or not equals:
            problems.append(f"arg: write NAME=VALUE, such as date=2026-11-26, not {arg!r}")
    states = values("state")
    problems += [f"state: {state!r} is not a state; the states are {', '.join(State)}"
                 for state in states if state not in State.__members__.values()]
    origins = values("origin")
    problems += [f"origin: {origin!r} is not an origin; the origins are {', '.join(Origin)}"
                 for origin in origins if origin not in Origin.__members__.values()]
    for name in ("since", "until"):
        if text(name) and _instant(text(name)) is None:
            problems.append(f"{name}: {text(name)!r} is not a time such as 2026-12-01T09:30 (UTC) or "
                            "2026-12-01T09:30:00+01:00")
    order = text("order") or "id"
    if order not in ("id", "time"):
        problems.append(f"order: {order!r} is not an order; the orders are id (newest first) and time (by "
                        "schedule time)")
        order = "id"
    if text("since") or text("until"):
        # A time range is shown by schedule time: the newest ids in a range of months lie anywhere in it, and
        # finding them is a walk of the whole range (300 ms for 200 days of a million runs); by time, the page
        # is the range's end, read from the time's index.
        order = "time"
    before = text("before")
    if before and not RUN_ID.fullmatch(before):
        problems.append(f"before: {before!r} is not a run id such as r123")
    limit_text = text("limit") or "100"
    limit = int(limit_text) if limit_text in {str(size) for size in PAGE_SIZES} else 100
    if limit_text != str(limit):
        problems.append(f"limit: {limit_text!r} is not a page size; the sizes are {', '.join(map(str, PAGE_SIZES))}")
    return RunFilter(job=text("job"), path=text("path"), args=args, states=states, labels=values("label"),
                     origins=origins, hosts=values("host"), since=text("since"), until=text("until"),
                     order=order,  # type: ignore[arg-type]
                     limit=limit, before=before, problems=tuple(problems))


def _instant(text: str) -> datetime | None:
    """ISO 8601, with its offset or without (then UTC); None for no text or text that is not a time."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
