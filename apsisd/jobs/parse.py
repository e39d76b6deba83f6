"""One job file's value -> a Job, with every problem in it reported at once.

Reads the top-level keys (Apsis-compatible: params, schedule, program,
condition, action, successors, metadata; and retry, scheduling), then the
checks that span them:
each schedule gives every param a value, every template uses only defined
names, and every job a condition or action names exists in the folder.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

from agentd.types import JobId
from apsisd.actions.base import Action
from apsisd.actions.registry import parse_action
from apsisd.calendars.calendar import Calendar
from apsisd.conditions.registry import parse_condition
from apsisd.errors import InvalidFields, invalid
from apsisd.fields import Fields, describe, each, remembered, string
from apsisd.jobs.hosts import LOCAL, host_name, unknown_host
from apsisd.jobs.jso import written
from apsisd.jobs.model import NO_METADATA, Job, Metadata
from apsisd.jobs.params import check_schedules, parse_params
from apsisd.jobs.program import parse_program
from apsisd.jobs.retry import parse_retry
from apsisd.jobs.scheduling import UNSET, parse_scheduling
from apsisd.jobs.templates import RESERVED, check_strings, has_template
from apsisd.schedules.base import Context, Schedule
from apsisd.schedules.registry import parse_schedule

Path = tuple[str | int, ...]


class JobParser:
    """Parses the jobs of one folder against its calendars, job ids and the names of the configured hosts and
    groups (`host_names`; local alone when apsisd.toml names no other).

    Schedules repeat across a folder (the same daily 09:30 in the same zone
    in many jobs): each distinct one is parsed once and the (immutable)
    result shared.
    """

    def __init__(self, calendars: Mapping[str, Calendar], job_ids: Collection[str],
                 host_names: frozenset[str] = frozenset({LOCAL})) -> None:
        self.calendars = calendars
        self.job_ids = job_ids
        self.host_names = host_names
        self._context = Context(calendars=calendars)
        self._schedules: dict[str, tuple[Schedule, frozenset[str]]] = {}  # by repr: with its arg names

    def parse(self, job_id: str, data: Any) -> Job:
        """The job `job_id` from its file's value; InvalidFields with every problem, paths from the file's top."""
        if data is None:
            raise invalid("empty job file; a job needs at least a program:")
        if not isinstance(data, Mapping):
            raise invalid(f"a job file must be a mapping of keys to values, not {describe(data)}")
        fields = Fields(data, "a job file")
        params = fields.take("params", _PARAMS, ())
        names = [*(params if params is not None else _loose_names(fields.raw("params"))), *RESERVED]
        schedules, paths, given = self._parse_schedules(fields)
        program = fields.take("program", parse_program)
        conditions = fields.take("condition", _CONDITIONS, [])
        actions = fields.take("action", _ACTIONS, [])
        successors = fields.take("successors", _SUCCESSORS, [])
        retry = fields.take("retry", _RETRY, None)
        metadata = fields.take("metadata", _metadata, NO_METADATA)
        scheduling = fields.take("scheduling", parse_scheduling, UNSET)
        host = fields.take("host", host_name, LOCAL)
        problems = fields.problems
        if host is not None and (wrong := unknown_host(host, self.host_names)) is not None:
            problems.append((("host",), wrong))
        if params and not all(names_given.issuperset(params) for names_given in given):  # else nothing to say
            problems.extend(_problems(check_schedules, params, schedules, paths))
        for key in ("program", "condition", "action", "successors"):
            if key in data:  # most jobs have no action: skip what is not there, a folder has many jobs
                problems.extend(_problems(check_strings, data[key], names, self.calendars, under=key))
        problems.extend(_unknown_jobs(fields.raw("condition"), fields.raw("action"), fields.raw("successors"),
                                      self.job_ids))
        fields.done()
        return Job(id=JobId(job_id), params=params, schedules=tuple(schedules), program=program,
                   conditions=tuple(conditions), actions=(*actions, *successors), retry=retry, metadata=metadata,
                   scheduling=scheduling, host=host, written=written(data))

    def _parse_schedules(self, fields: Fields) -> tuple[list[Schedule], list[Path], list[frozenset[str]]]:
        """Each schedule that parses, its path (`schedule` or `schedule[i]`) and its arg names; problems go
        into `fields`."""
        value = fields.raw("schedule")
        items = value if isinstance(value, list) else [] if value is None else [value]
        schedules, paths, given = [], [], []
        for index, item in enumerate(items):
            path: Path = ("schedule", index) if isinstance(value, list) else ("schedule",)
            key = repr(item)  # tells 1 from 1.0, true and '1' apart, as the parsers do
            if key not in self._schedules:
                try:
                    parsed = parse_schedule(item, self._context)
                except InvalidFields as exc:
                    fields.problems.extend(exc.under(*path).problems)
                    continue
                self._schedules[key] = parsed, parsed.arg_names()
            schedule, names = self._schedules[key]
            schedules.append(schedule)
            paths.append(path)
            given.append(names)
        return schedules, paths, given


def _listed(parse: Any) -> Any:
    """A parser for one item or a list of them, where null means none."""
    items = each(parse)
    return lambda value: [] if value is None else items(value)


def _successor(value: Any) -> Action:
    """Apsis shorthand: `successors: [job, {job_id, args}]` = a schedule action on success, parsed as one."""
    if not isinstance(value, Mapping):
        try:
            return parse_action({"type": "schedule", "job_id": value, "if": {"states": ["success"]}})
        except InvalidFields as exc:  # about job_id, which is the item itself here
            raise InvalidFields([(path[1:], message) for path, message in exc.problems]) from None
    written = {key: item for key, item in value.items() if key in ("job_id", "args")}
    problems: list[tuple[Path, str]] = []
    try:
        action = parse_action({"type": "schedule", **written, "if": {"states": ["success"]}})
    except InvalidFields as exc:
        problems = exc.problems
    problems.extend(((str(key),), "unknown key; allowed here: args, job_id") for key in value if key not in written)
    if problems:
        raise InvalidFields(problems)
    return action


# Made once: a large folder parses many jobs.
# Parsed conditions and actions are immutable and a folder repeats them (max_running 1 in many jobs): remembered.
_CONDITIONS = _listed(remembered(parse_condition))
_ACTIONS = _listed(remembered(parse_action))
_SUCCESSORS = _listed(remembered(_successor))
_RETRY = remembered(parse_retry)
_LABELS = each(string)
_PARAMS = remembered(parse_params)


def _metadata(value: Any) -> Metadata:
    fields = Fields(value, "metadata")
    description = fields.take("description", string, "")
    labels = fields.take("labels", _LABELS, [])
    if fields.problems:
        raise InvalidFields(fields.problems)
    extra = {key: item for key, item in value.items() if key not in ("description", "labels")}
    return Metadata(description=description, labels=tuple(labels), extra=MappingProxyType(extra))


def _unknown_jobs(conditions: Any, actions: Any, successors: Any, job_ids: Collection[str]) -> list[tuple[Path, str]]:
    """A `job_id` written out (not templated) in a condition, action or successor must name a job of the folder."""
    if conditions is None and actions is None and successors is None:
        return []  # most jobs: nothing to look at
    named: list[tuple[Path, Any]] = []
    for key, value in (("condition", conditions), ("action", actions), ("successors", successors)):
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            path: Path = (key, index) if isinstance(value, list) else (key,)
            if isinstance(item, Mapping):
                named.append(((*path, "job_id"), item.get("job_id")))
            elif key == "successors":
                named.append((path, item))
    return [(path, f"unknown job {job_id!r}; no job file {job_id}.yaml in this folder")
            for path, job_id in named
            if isinstance(job_id, str) and not has_template(job_id) and job_id not in job_ids]


def _loose_names(value: Any) -> list[str]:
    """The string names among params that did not all parse, so templates are checked without false alarms."""
    items = list(value) if isinstance(value, Mapping | list) else [value]
    return [item for item in items if isinstance(item, str)]


def _problems(check: Any, *args: Any, under: str | None = None) -> list[tuple[Path, str]]:
    try:
        check(*args)
    except InvalidFields as exc:
        return exc.under(under).problems if under else exc.problems
    return []
