"""job_jso(): a job as its file wrote it, abbreviations spelled out, in JSON's types only; equality unaffected."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentd.types import JobId
from apsisd.jobs.jso import Shown, job_jso
from apsisd.jobs.load import load_jobs
from apsisd.jobs.model import Job
from apsisd.jobs.parse import JobParser
from apsisd.jobs.program import parse_program
from apsisd.scheduler.plan import job_changes


def loaded(tmp_path: Path, text: str, others: tuple[str, ...] = ()) -> Job:
    """The job `j` of a folder holding `text` as j.yaml, through the loader; `others` are jobs with a param
    `region` that do nothing (for conditions and actions to name)."""
    (tmp_path / "j.yaml").write_text(textwrap.dedent(text))
    for other in others:
        (tmp_path / f"{other}.yaml").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{other}.yaml").write_text('params: [region]\nprogram: "true"\n')
    return load_jobs(tmp_path).jobs[JobId("j")]


def as_json(job: Job) -> Any:
    """job_jso() through strict JSON (no NaN, no Infinity) and back: what a client reads."""
    return json.loads(json.dumps(job_jso(job, Shown.OPERATOR), allow_nan=False))


@pytest.mark.parametrize(("program", "expected"), [
    ('"echo hi {{ who }}"', {"type": "shell", "command": "echo hi {{ who }}"}),
    ("[/usr/bin/env, echo, '{{ who }}']", {"type": "exec", "argv": ["/usr/bin/env", "echo", "{{ who }}"]}),
    ("{type: shell, command: make, timeout: 1h, limits: {memory: 512M, nice: 5}, env: {A: '1'}}",
     {"type": "shell", "command": "make", "timeout": "1h", "limits": {"memory": "512M", "nice": 5},
      "env": {"A": "1"}}),
    ("{type: exec, argv: [make, all], stop: {signal: INT, grace_period: 30}}",
     {"type": "exec", "argv": ["make", "all"], "stop": {"signal": "INT", "grace_period": 30}}),
    ("{type: no-op, duration: 2.5, success: false}", {"type": "no-op", "duration": 2.5, "success": False}),
])
def test_every_program_form(tmp_path: Path, program: str, expected: dict[str, Any]) -> None:
    job = loaded(tmp_path, f"params: [who]\nprogram: {program}\n")
    assert as_json(job)["program"] == expected


def test_a_whole_job_as_written(tmp_path: Path) -> None:
    job = loaded(tmp_path, """
        params: [date, region]
        schedule:
          - {type: daily, tz: Europe/London, daytime: '09:30', args: {region: eu}}
          - {type: interval, interval: 1h, args: {region: us}, enabled: false}
        program: "load --date {{ date }} {{ region }}"
        condition:
          - {type: dependency, job_id: etl/extract}
          - {type: max_running, count: 1}
        action: {type: webhook, url: "https://example.com/hook", if: {states: [failure]}}
        successors:
          - reports/daily
          - {job_id: reports/region, args: {region: "{{ region }}"}}
        retry: {count: 2, delay: 5m}
        scheduling: {catchup: none}
        metadata:
          description: Loads the day.
          labels: [etl, nightly]
          owner: data-team
          runbook: {url: "https://wiki/etl", steps: [check, rerun]}
    """, others=("etl/extract", "reports/daily", "reports/region"))
    assert as_json(job) == {
        "job_id": "j",
        "params": ["date", "region"],
        "schedules": [{"type": "daily", "tz": "Europe/London", "daytime": "09:30", "args": {"region": "eu"}},
                      {"type": "interval", "interval": "1h", "args": {"region": "us"}, "enabled": False}],
        "program": {"type": "shell", "command": "load --date {{ date }} {{ region }}"},
        "conditions": [{"type": "dependency", "job_id": "etl/extract"}, {"type": "max_running", "count": 1}],
        "actions": [
            {"type": "webhook", "url": "https://example.com/hook", "if": {"states": ["failure"]}},
            {"type": "schedule", "job_id": "reports/daily", "if": {"states": ["success"]}},
            {"type": "schedule", "job_id": "reports/region", "args": {"region": "{{ region }}"},
             "if": {"states": ["success"]}},
        ],
        "retry": {"count": 2, "delay": "5m"},
        "scheduling": {"catchup": "none"},
        "host": "local",
        "metadata": {"description": "Loads the day.", "labels": ["etl", "nightly"], "owner": "data-team",
                     "runbook": {"url": "https://wiki/etl", "steps": ["check", "rerun"]}},
    }


def test_one_item_keys_become_lists_and_absent_ones_empty_or_null(tmp_path: Path) -> None:
    job = loaded(tmp_path, """
        params: [region]
        schedule: {type: interval, interval: 1h, args: {region: eu}}
        program: "true"
        condition: {type: max_running, count: 1}
        successors: k
    """, others=("k",))
    assert as_json(job) == {
        "job_id": "j", "params": ["region"],
        "schedules": [{"type": "interval", "interval": "1h", "args": {"region": "eu"}}],
        "program": {"type": "shell", "command": "true"}, "conditions": [{"type": "max_running", "count": 1}],
        "actions": [{"type": "schedule", "job_id": "k", "if": {"states": ["success"]}}],
        "retry": None, "scheduling": None, "host": "local", "metadata": {"description": "", "labels": []},
    }
    bare = loaded(tmp_path, 'program: "true"\ncondition: null\naction: []\n')
    assert (as_json(bare)["schedules"], as_json(bare)["conditions"], as_json(bare)["actions"]) == ([], [], [])


def test_yaml_dates_and_timestamps_stay_the_text_written(tmp_path: Path) -> None:
    """The job file loader types no dates: an unquoted date or timestamp is shown as it was written."""
    job = loaded(tmp_path, """
        schedule: {type: explicit, times: [2026-01-31T09:30:00Z, 2026-02-01 10:00:00+01:00]}
        program: "true"
        metadata: {since: 2026-01-31, huge: 1e999, ratio: 0.5}
    """)
    shown = as_json(job)
    assert shown["schedules"] == [{"type": "explicit", "times": ["2026-01-31T09:30:00Z",
                                                                 "2026-02-01 10:00:00+01:00"]}]
    assert shown["metadata"] == {"description": "", "labels": [], "since": "2026-01-31", "huge": "inf",
                                 "ratio": 0.5}


def test_values_of_pyyamls_own_loader_become_json_text() -> None:
    """A job parsed from PyYAML's value (dates and datetimes objects, a set, bytes) still gives strict JSON."""
    text = textwrap.dedent("""
        schedule: {type: explicit, times: [2026-01-31T09:30:00Z]}
        program: "true"
        metadata: {since: 2026-01-31, tags: !!set {a, b}, blob: !!binary aGk=}
    """)
    job = JobParser({}, ["j"]).parse("j", yaml.unsafe_load(text))
    shown = as_json(job)
    assert shown["schedules"] == [{"type": "explicit", "times": ["2026-01-31T09:30:00+00:00"]}]
    assert shown["metadata"] == {"description": "", "labels": [], "since": "2026-01-31", "tags": ["a", "b"],
                                 "blob": "aGk="}


def test_the_written_form_is_not_part_of_a_jobs_equality(tmp_path: Path) -> None:
    """A program string and the mapping it stands for are the same job: a reload changes nothing."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    short = loaded(tmp_path / "a", 'program: "make"\n')
    long = loaded(tmp_path / "b", "program: {type: shell, command: make}\n")
    assert short == long
    assert as_json(short) == as_json(long)  # the string spelled out as the mapping
    assert not job_changes({short.id: short}, {long.id: long})
    assert short.written != long.written


def test_a_job_made_in_code_shows_what_it_has() -> None:
    job = Job(id=JobId("x/y"), params=("a",), program=parse_program("true"))
    assert as_json(job) == {"job_id": "x/y", "params": ["a"], "schedules": [], "program": None, "conditions": [],
                            "actions": [], "retry": None, "scheduling": None, "host": "local",
                            "metadata": {"description": "", "labels": []}}


SECRET_JOB = """
    program:
      type: shell
      command: make
      env: {DB_PASSWORD: pa55w0rd, PLAIN: "1"}
    action:
      - type: webhook
        url: "https://bot:s3cr3t@hooks.example.com/services/T0?token=t0k3n#f"
        headers: {Authorization: "Bearer h3ad3r"}
      - {type: webhook, url: "https://hooks.example.com/{{ job_id }}"}
"""


def test_an_operator_is_shown_env_values_and_urls_but_no_header_value(tmp_path: Path) -> None:
    job = loaded(tmp_path, SECRET_JOB)
    shown = json.loads(json.dumps(job_jso(job, Shown.OPERATOR)))
    assert shown["program"]["env"] == {"DB_PASSWORD": "pa55w0rd", "PLAIN": "1"}
    assert shown["actions"] == [
        {"type": "webhook", "url": "https://bot:s3cr3t@hooks.example.com/services/T0?token=t0k3n#f",
         "headers": {"Authorization": "(hidden)"}},
        {"type": "webhook", "url": "https://hooks.example.com/{{ job_id }}"}]


def test_a_reader_is_shown_env_names_and_urls_without_their_secrets(tmp_path: Path) -> None:
    job = loaded(tmp_path, SECRET_JOB)
    text = json.dumps(job_jso(job, Shown.READER))
    shown = json.loads(text)
    assert shown["program"] == {"type": "shell", "command": "make",
                                "env": {"DB_PASSWORD": "(hidden)", "PLAIN": "(hidden)"}}
    assert shown["actions"] == [
        {"type": "webhook", "url": "https://hooks.example.com/...", "headers": {"Authorization": "(hidden)"}},
        {"type": "webhook", "url": "https://hooks.example.com/..."}]
    for secret in ("pa55w0rd", "s3cr3t", "t0k3n", "h3ad3r", "bot"):
        assert secret not in text
    assert json.loads(json.dumps(job_jso(job, Shown.OPERATOR)))["program"]["env"]["DB_PASSWORD"] == "pa55w0rd"
