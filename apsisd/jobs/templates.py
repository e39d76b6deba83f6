"""`{{ name }}` templates in job files: checked when the job is loaded, rendered when a run is bound.

Apsis syntax (Jinja2, sandboxed, no autoescape). A template sees the job's
params, `run_id`, `job_id`, and three business-day helpers. An undefined
name is a load-time error, so a typo never waits for the run to fail.
Loading only parses (it never compiles: compiling is what makes Jinja slow)
and skips text without `{{` or `{%`, so a job folder of plain commands costs
nothing here.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from apsisd.calendars.calendar import Calendar
from apsisd.calendars.spec import parse_calendar
from apsisd.errors import InvalidFields, invalid

# `{{ name }}`: most templates are only these, and need no Jinja to check or render.
SIMPLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", re.ASCII)
CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})
ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
RESERVED = ("run_id", "job_id")
# Helper name -> how it is called; its calendar is the last argument.
HELPERS = {
    "next_business_day": "next_business_day(date, calendar)",
    "prev_business_day": "prev_business_day(date, calendar)",
    "business_day": "business_day(date, shift, calendar)",
}

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """A field whose text holds a template: its value is known, and checked by `parse`, once a run is bound."""

    text: str
    parse: Callable[[str], Any] = field(compare=False, repr=False)


def has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def check(text: str, names: Collection[str], calendars: Mapping[str, Calendar]) -> list[str]:
    """What is wrong with the template in `text` when `names` (besides the helpers) are defined."""
    if not has_template(text):
        return []
    parsed = _parse(text)
    if isinstance(parsed, str):
        return [parsed]
    used, literal_calendars, messages = parsed[0], parsed[1], list(parsed[2])
    unknown = sorted(used - set(names) - set(HELPERS))
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        messages.append(f"template uses undefined {_plural('name', unknown)} {', '.join(unknown)}; "
                        f"defined here: {known} (declare a param in params: to use it)")
    for name in literal_calendars:
        try:
            parse_calendar(name, calendars)
        except InvalidFields as exc:
            messages.extend(f"template: {message}" for _, message in exc.problems)
    return messages


def check_strings(value: Any, names: Collection[str], calendars: Mapping[str, Calendar]) -> None:
    """Check every string inside `value` (nested lists and mappings); InvalidFields at each one's path."""
    text = repr(value)  # one quick look (in C) for the common case: no template at all
    if "{{" not in text and "{%" not in text:
        return
    problems = [(path, message) for path, text in _strings(value, ())
                for message in check(text, names, calendars)]
    if problems:
        raise InvalidFields(problems)


def render(text: str, args: Mapping[str, str], calendars: Mapping[str, Calendar]) -> str:
    """`text` with its templates filled from `args` (params plus run_id and job_id); InvalidFields if it fails.

    The values are pasted in as they are: never render code a shell reads with this (see shell_templates).
    """
    if not has_template(text):
        return text
    simple = simple_names(text)
    if simple is not None and simple <= args.keys():
        return SIMPLE.sub(lambda match: str(args[match.group(1)]), text)
    helpers = _helpers(calendars)
    try:
        return _compiled(text).render({**helpers, **args})
    except jinja2.UndefinedError as exc:
        raise invalid(f"template: {exc.message}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise invalid(f"template syntax error: {exc.message}") from None
    except InvalidFields:
        raise
    except Exception as exc:  # a template can fail in any way its expressions can
        raise invalid(f"template failed: {type(exc).__name__}: {exc}") from None


@functools.lru_cache(maxsize=1024)
def _compiled(text: str) -> jinja2.Template:
    """Compiled once per text: a job's runs share their templates."""
    return ENV.from_string(text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]] | str:
    """The names a template uses, the calendar names it gives helpers as literals, and helper calls with the
    wrong number of arguments; or its syntax error.

    Cached: many jobs share the same command text.
    """
    simple = simple_names(text)
    if simple is not None:
        return simple, (), ()
    try:
        return _analysed(ENV.parse(text))
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (template line {exc.lineno})"
    except RecursionError:  # Jinja's parser and its tree walks recurse once per level of brackets, blocks...
        return "template nested too deeply to read (brackets, blocks or operators); write it in simpler parts"


def _analysed(ast: nodes.Template) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """_parse() of a parsed template."""
    literals, wrong = [], []
    for call in ast.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in HELPERS:
            usage = HELPERS[call.node.name]
            arguments = [*call.args, *(kwarg.value for kwarg in call.kwargs)]
            if len(arguments) != usage.count(",") + 1 or call.dyn_args or call.dyn_kwargs:
                wrong.append(f"template calls {call.node.name} with {len(arguments)} arguments; use {usage}")
                continue
            calendar = ([kwarg.value for kwarg in call.kwargs if kwarg.key == "calendar"] or call.args[-1:])[0]
            if isinstance(calendar, nodes.Const) and isinstance(calendar.value, str):
                literals.append(calendar.value)
    return frozenset(meta.find_undeclared_variables(ast)), tuple(literals), tuple(wrong)


def simple_names(text: str) -> frozenset[str] | None:
    """The names in a template made only of `{{ name }}` expressions; None for any other template.

    Jinja would read such a template the same way (the value of each name as
    text), so loading a large folder need not parse it with Jinja.
    """
    rest = SIMPLE.sub("\0", text)
    if "{{" in rest or "{%" in rest or "{#" in rest or "{\0" in rest or "\0}" in rest or "\r" in text:
        return None
    names = frozenset(SIMPLE.findall(text))
    return None if names & CONSTANTS else names


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Every string in `value` that may hold a template, with its path."""
    if isinstance(value, str):
        if "{" in value:
            yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
    elif isinstance(value, dict | Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))


def _helpers(calendars: Mapping[str, Calendar]) -> dict[str, Callable[..., str]]:
    """The business-day helpers, with calendars looked up by name or weekday spec (`Mon-Fri`)."""

    def lookup(name: str) -> Calendar:
        return parse_calendar(name, calendars)

    def day(text: Any) -> date:
        try:
            return date.fromisoformat(str(text))
        except ValueError:
            raise invalid(f"{text!r} is not a date; business-day helpers take YYYY-MM-DD") from None

    def next_business_day(when: str, calendar: str) -> str:
        """The first date of `calendar` strictly after `when`."""
        return lookup(calendar).after(day(when)).isoformat()

    def prev_business_day(when: str, calendar: str) -> str:
        """The last date of `calendar` strictly before `when`."""
        return lookup(calendar).before(day(when)).isoformat()

    def business_day(when: str, shift: int | str, calendar: str) -> str:
        """The `shift`-th date of `calendar` after `when` (before it when negative); `when` itself for 0."""
        try:
            count = int(shift) if not isinstance(shift, bool | float) else None
        except ValueError:
            count = None
        if count is None:
            raise invalid(f"business_day: shift must be a whole number such as -1 or 2, not {shift!r}")
        return lookup(calendar).shift(day(when), count).isoformat()

    return {"next_business_day": next_business_day, "prev_business_day": prev_business_day,
            "business_day": business_day}


def _plural(word: str, items: Collection[Any]) -> str:
    return word if len(items) == 1 else word + "s"
