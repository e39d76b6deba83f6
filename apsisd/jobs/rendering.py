"""A condition's or action's templated fields, rendered for one run, every problem kept with its path.

The counterpart of Fields for bind time: a template that fails, or renders
to a value its field refuses, is recorded and the others are still tried,
so a run's log says everything wrong at once. Templates see what they were
checked against at load: the run's args (its job's params), `run_id`,
`job_id`, and the business-day helpers.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from apsisd.calendars.calendar import Calendar
from apsisd.errors import InvalidFields, format_path
from apsisd.jobs.templates import Template, render
from apsisd.runs.model import Run

T = TypeVar("T")


def template_names(run: Run) -> dict[str, str]:
    """What a template sees for `run`."""
    return {**run.args, "run_id": run.id, "job_id": run.job_id}


class Renderer:
    """Renders the fields of one condition or action for one run; done() raises every problem met."""

    def __init__(self, run: Run, calendars: Mapping[str, Calendar]) -> None:
        self.names = template_names(run)
        self.calendars = calendars
        self.problems: list[tuple[tuple[str | int, ...], str]] = []

    def text(self, text: str, *path: str | int) -> str:
        """`text` rendered (as is when it holds no template)."""
        try:
            return render(text, self.names, self.calendars)
        except InvalidFields as exc:
            self.problems.extend(exc.under(*path).problems)
            return text

    def value(self, value: T | Template, *path: str | int) -> T:
        """A field parsed at load, or, when it held a template, rendered and parsed now."""
        if not isinstance(value, Template):
            return value
        try:
            return value.parse(render(value.text, self.names, self.calendars))
        except InvalidFields as exc:
            self.problems.extend(exc.under(*path).problems)
            return None  # type: ignore[return-value]  # done() raises before it is used

    def mapping(self, values: Mapping[str, str], *path: str | int) -> dict[str, str]:
        return {key: self.text(item, *path, key) for key, item in values.items()}

    def done(self) -> None:
        if self.problems:
            raise InvalidFields(self.problems)


def in_words(exc: InvalidFields) -> str:
    """Every problem of `exc` on one line, for a run's log: 'args.date: template: ...; job_id: ...'."""
    return "; ".join(f"{format_path(path)}: {message}" if path else message for path, message in exc.problems)
