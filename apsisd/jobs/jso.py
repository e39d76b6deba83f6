"""A job as JSON: the one shape every client sees (the API, `--json`, the live stream), as its file wrote it.

Shown as written rather than rebuilt from the parsed job: a daily schedule's
`daytime: '09:30'` reads as the operator wrote it, and a plug-in's
schedule, condition or action type needs no code to be shown. Only what a
file may abbreviate is spelled out: `schedule`, `condition` and `action`
(one item or a list) become lists, a program string a shell program, a
program list an exec one, and `successors` the schedule actions on success
they stand for.

A job keeps its file's value marshalled (`Job.written`, made by written()):
a tenth of the memory of its dicts and lists, for a value read only when a
client asks. Values JSON has no word for become text: an infinite float
(`1e999`), and the dates, sets and bytes PyYAML's own loader makes (the job
file loader, apsisd/yaml_source.py, keeps dates as the text written and
refuses !!set and !!binary).

What a file writes may hold secrets: the program's `env` values and a
webhook's URL and headers. Each client is shown a job at one of two
levels (Shown): an operator sees env values and webhook URLs as written,
a caller who may only read sees neither (env names stay, each value is
replaced by HIDDEN; a URL keeps scheme://host/path). No one is shown a
webhook header's value: it is a token to send, not to read back.
"""
from __future__ import annotations

import base64
import enum
import marshal
import math
from collections.abc import Mapping
from datetime import date, time
from typing import Any

from apsisd.actions import webhook
from apsisd.jobs.model import Job

HIDDEN = webhook.HIDDEN


class Shown(enum.Enum):
    """How much of a job's secrets a client is shown (header values: never)."""

    OPERATOR = "operator"  # env values and webhook URLs as written
    READER = "reader"  # env names only; webhook URLs as scheme://host/path


def written(value: Any) -> bytes:
    """The job file's value as Job.written keeps it."""
    try:
        return marshal.dumps(value)
    except ValueError:  # a date or some other object marshal cannot keep: JSON's terms are enough
        return marshal.dumps(_plain(value))


def job_jso(job: Job, shown: Shown) -> dict[str, Any]:
    """The job as plain JSON values, its secrets hidden as `shown` says: job_id, params, schedules, program,
    conditions, actions, retry, scheduling, host, metadata."""
    value = _clean(marshal.loads(job.written)) if job.written is not None else {}
    metadata = value.get("metadata") or {}
    full = shown is Shown.OPERATOR
    return {
        "job_id": job.id,
        "params": list(job.params),
        "schedules": _items(value.get("schedule")),
        "program": _program(value.get("program"), full),
        "conditions": _items(value.get("condition")),
        "actions": [*(_action(item, full) for item in _items(value.get("action"))),
                    *map(_successor, _items(value.get("successors")))],
        "retry": value.get("retry"),
        "scheduling": value.get("scheduling"),
        "host": job.host,
        "metadata": {"description": job.metadata.description, "labels": list(job.metadata.labels),
                     **{key: item for key, item in metadata.items() if key not in ("description", "labels")}},
    }


def _items(value: Any) -> list[Any]:
    """A key that holds one item or a list of them (or null: none), as a list."""
    return [] if value is None else value if isinstance(value, list) else [value]


def _program(value: Any, full: bool) -> Any:
    if isinstance(value, str):
        return {"type": "shell", "command": value}
    if isinstance(value, list):
        return {"type": "exec", "argv": value}
    env = value.get("env") if isinstance(value, dict) else None
    if env is not None and not full:
        value["env"] = {name: HIDDEN for name in env} if isinstance(env, dict) else HIDDEN
    return value


def _action(value: Any, full: bool) -> Any:
    """The action as written; a webhook's secrets hidden (a value just unmarshalled: ours to change)."""
    if isinstance(value, dict) and value.get("type") == webhook.Webhook.type_name:
        return webhook.redacted(value, full_url=full)
    return value


def _successor(value: Any) -> dict[str, Any]:
    """`successors: [job, {job_id, args}]`: what parse reads each as, a schedule action on success."""
    target = {"job_id": value} if not isinstance(value, Mapping) else {
        key: value[key] for key in ("job_id", "args") if key in value}
    return {"type": "schedule", **target, "if": {"states": ["success"]}}


_JSON_LEAVES = frozenset({str, int, bool, type(None)})


def _clean(value: Any) -> Any:
    """A value just unmarshalled (so ours to change) with only JSON's types: what is not is replaced in place.

    A list of 10,000 jobs walks 10,000 files' values: most of it is text, left
    as it is, and no dict or list is copied (_plain would copy them all).
    """
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(item) not in _JSON_LEAVES:
                value[key] = _clean(item)
        return value if all(type(key) is str for key in value) else _plain(value)
    if kind is list:
        for index, item in enumerate(value):
            if type(item) not in _JSON_LEAVES:
                value[index] = _clean(item)
        return value
    return _plain(value)


def _plain(value: Any) -> Any:
    """A copy of `value` with only JSON's types: text for what JSON cannot say."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(item) for item in value), key=str)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")  # as YAML's !!binary writes it
    return str(value)
