"""Bad job files -> the exact FILE:LINE: field: message lines an operator sees, one table."""
from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from apsisd.errors import InvalidFiles
from apsisd.jobs.load import load_jobs

ALLOWED = "allowed here: action, condition, host, metadata, params, program, retry, schedule, scheduling, successors"
STATES = "scheduled, waiting, starting, running, stopping, success, failure, error, skipped"
CONDITION_TYPES = "known condition types: dependency, max_running, skip_duplicate"
UNDEFINED = "template uses undefined name {}; defined here: {} (declare a param in params: to use it)"

# (the file job.yaml, the problems; the folder also holds other.yaml, a valid job)
CASES: list[tuple[str, list[str]]] = [
    ("", ["job.yaml:1: empty job file; a job needs at least a program:"]),
    ("# nothing but a comment\n", ["job.yaml:1: empty job file; a job needs at least a program:"]),
    ("- echo hi\n", ["job.yaml:1: a job file must be a mapping of keys to values, not a list"]),
    ("echo hi\n", ["job.yaml:1: a job file must be a mapping of keys to values, not a string 'echo hi'"]),
    ("""
     metadata: {}
     """, ["job.yaml:1: program: is required"]),
    ("""
     program: echo hi
     schedules: []
     conditions: []
     """, [f"job.yaml:2: schedules: unknown key; {ALLOWED}", f"job.yaml:3: conditions: unknown key; {ALLOWED}"]),
    # params
    ("""
     params: [date, run_id, 2x]
     program: echo
     """, ["job.yaml:1: params[1]: 'run_id' is reserved; a param may not be named run_id, job_id, "
           "next_business_day, prev_business_day, business_day",
           "job.yaml:1: params[2]: a string '2x' is not a param name; use letters, digits and _, not starting with "
           "a digit"]),
    ("""
     params:
       date: the business date
       date: again
     program: echo
     """, ["job.yaml:3: duplicate key 'date' (first at line 2); a key may appear once in a mapping"]),
    # schedules: one or a list, each re-rooted, every problem of each
    ("""
     schedule:
       type: hourly
     program: echo
     """, ["job.yaml:2: schedule.type: unknown schedule type 'hourly'; known types: cron, daily, daily-interval, "
           "explicit, interval, on-calendar"]),
    ("""
     schedule:
       - type: interval
         interval: 1h
       - type: daily
         daytime: 25:00
       - interval: 5m
     program: echo
     """, ["job.yaml:4: schedule[1].tz: is required",
           "job.yaml:5: schedule[1].daytime: '25:00' is not a time of day; hours go 00-23, minutes and seconds 00-59",
           "job.yaml:6: schedule[2].type: a schedule needs a type; known types: cron, daily, daily-interval, "
           "explicit, interval, on-calendar"]),
    ("""
     schedule: {type: cron, expr: "0 9 * * *", tz: Mars/Olympus}
     program: echo
     """, ["job.yaml:1: schedule.tz: unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/London or "
           "UTC"]),
    ("""
     schedule:
       type: daily
       tz: UTC
       daytime: 10:30
       calendar: nyse
     program: echo
     """, ["job.yaml:5: schedule.calendar: unknown calendar 'nyse'; use all, weekdays such as Mon-Fri, Tue,Thu or "
           "Sat-Mon, or a holiday calendar: holidays"]),
    # params vs schedule args
    ("""
     params: [date, region]
     schedule:
       - type: daily
         tz: Europe/London
         daytime: 10:30
         args: {region: UK}
       - type: interval
         interval: 1h
       - type: interval
         interval: 1h
         enabled: false
     program: echo {{ date }} {{ region }}
     """, ["job.yaml:7: schedule[1]: gives no value for param 'region'; add it to the schedule's args "
           "(args: {region: ...}) or remove it from params"]),
    ("""
     params: shard
     schedule: {type: explicit, times: ["2026-01-01T00:00:00Z"]}
     program: echo
     """, ["job.yaml:2: schedule: gives no value for param 'shard'; add it to the schedule's args "
           "(args: {shard: ...}) or remove it from params"]),
    # program
    ("""
     program:
       type: shell
       command: backup
       timeout: soon
       limits:
         memory: 2X
         cpu: 150%
     """, ["job.yaml:4: program.timeout: 'soon' is not a duration; use a number of seconds or a duration such as "
           "90s, 15m, 4h, 1d or 1h30m",
           "job.yaml:6: program.limits.memory: '2X' is not a size; use a number of bytes or a size such as 512M or "
           "2G"]),
    ("""
     program:
       type: exec
     """, ["job.yaml:1: program.argv: is required"]),
    ("""
     program:
       type: exec
       argv: [ls]
       output:
         split: yes please
         tee: /tmp/x
     """, ["job.yaml:5: program.output.split: must be true or false, not a string 'yes please'",
           "job.yaml:6: program.output.tee: unknown key; allowed here: split"]),
    # templates: undefined names and syntax errors, wherever strings are templated
    ("""
     params: [date]
     schedule: {type: interval, interval: 1h}
     program:
       type: exec
       argv: [report, "{{ date }}", "{{ region }}"]
       env: {RUN: "{{ run_id }}", BAD: "{{ job_id"}
       timeout: "{{ minutes }}m"
     """, ["job.yaml:5: program.argv[2]: " + UNDEFINED.format("region", "date, job_id, run_id"),
           "job.yaml:6: program.env.BAD: template syntax error: unexpected end of template, expected 'end of print "
           "statement'. (template line 1)",
           "job.yaml:7: program.timeout: " + UNDEFINED.format("minutes", "date, job_id, run_id")]),
    ("""
     program: "echo {{ date }}"
     """, ["job.yaml:1: program: " + UNDEFINED.format("date", "job_id, run_id")]),
    ("""
     params: [date]
     schedule: {type: interval, interval: 1d}
     program: echo
     condition:
       type: dependency
       job_id: other
       args: {date: "{{ prev_business_day(date, 'lse') }}"}
     """, ["job.yaml:7: condition.args.date: template: unknown calendar 'lse'; use all, weekdays such as Mon-Fri, "
           "Tue,Thu or Sat-Mon, or a holiday calendar: holidays"]),
    # conditions, actions, successors
    ("""
     program: echo
     condition:
       - type: max_running
       - count: 1
       - type: 5
       - dependency
     action: [{}]
     """, [f"job.yaml:4: condition[1].type: is required; {CONDITION_TYPES}",
           f"job.yaml:5: condition[2].type: must be a condition type name, not a number 5; {CONDITION_TYPES}",
           "job.yaml:6: condition[3]: each condition must be a mapping with a type, not a string 'dependency'; "
           + CONDITION_TYPES,
           "job.yaml:7: action[0].type: is required; known action types: schedule, webhook"]),
    ("""
     program: echo
     condition: {type: dependency, job_id: missing/job}
     action:
       - {type: schedule, job_id: other}
       - {type: schedule, job_id: "{{ job_id }}-next"}
       - {type: schedule, job_id: gone}
     successors: [other, gone2, {job_id: gone3, args: {a: 1}}, {job: x}]
     """, ["job.yaml:2: condition.job_id: unknown job 'missing/job'; no job file missing/job.yaml in this folder",
           "job.yaml:6: action[2].job_id: unknown job 'gone'; no job file gone.yaml in this folder",
           "job.yaml:7: successors[3].job_id: is required",
           "job.yaml:7: successors[3].job: unknown key; allowed here: args, job_id",
           "job.yaml:7: successors[1]: unknown job 'gone2'; no job file gone2.yaml in this folder",
           "job.yaml:7: successors[2].job_id: unknown job 'gone3'; no job file gone3.yaml in this folder"]),
    # each condition's and action's own fields, checked by its type when the job is loaded
    ("""
     params: [date]
     schedule: {type: interval, interval: 1d}
     program: echo
     condition:
       - type: dependency
         states: [succes, running]
       - type: max_running
         count: 0
         args: some
       - type: skip_duplicate
         target_state: success
         check_states: []
       - {type: dependency, job_id: other, args: {date: "{{ dat }}"}, exist: true}
       - {type: max_running, count: "{{ date }}", job_id: "{{ job_id }}"}
       - {type: nope}
     """, ["job.yaml:5: condition[0].job_id: is required",
           f"job.yaml:6: condition[0].states[0]: must be one of {STATES}, not a string 'succes'",
           "job.yaml:8: condition[1].count: must be a whole number of runs, at least 1, not a number 0",
           "job.yaml:9: condition[1].args: must be same (runs with this run's args) or any (every run of the job), "
           "not a string 'some'",
           "job.yaml:11: condition[2].target_state: must be one of error, skipped, not a string 'success'",
           f"job.yaml:12: condition[2].check_states: must name at least one state: {STATES}",
           "job.yaml:13: condition[3].exist: unknown key; allowed here: args, job_id, states, type",
           "job.yaml:13: condition[3].args.date: " + UNDEFINED.format("dat", "date, job_id, run_id"),
           f"job.yaml:15: condition[5].type: unknown condition type 'nope'; {CONDITION_TYPES}"]),
    ("""
     program: echo
     action:
       - type: webhook
         url: ftp://x
         timeout: 0
         retries: -1
         headers: {"Bad Name": x, X-Token: "a\\nb"}
       - type: schedule
         job_id: other
         if: {states: [done, new]}
       - type: schedule
         job_id: other
         if: success
       - {type: webhook, url: "https://{{ host }}/x", if: {}}
       - {type: schedule, args: {x: 1}}
     """, ["job.yaml:4: action[0].url: must be an http:// or https:// URL with a host, such as "
           "https://hooks.example.com/apsis, not 'ftp://x'",
           "job.yaml:5: action[0].timeout: must be a duration above zero, such as 10s or 1m",
           "job.yaml:6: action[0].retries: must be a whole number from 0 (one attempt only) to 100, not -1",
           "job.yaml:7: action[0].headers.Bad Name: is not an HTTP header name; use letters, digits and -, such as "
           "Authorization or X-Token",
           "job.yaml:7: action[0].headers.X-Token: must be one line (no line breaks)",
           f"job.yaml:10: action[1].if.states[0]: must be one of {STATES}, not a string 'done'",
           f"job.yaml:10: action[1].if.states[1]: must be one of {STATES}, not a string 'new'",
           "job.yaml:13: action[2].if: must be a mapping such as {states: [failure, error]}, not a string 'success'",
           "job.yaml:14: action[3].if.states: is required",
           "job.yaml:14: action[3].url: " + UNDEFINED.format("host", "job_id, run_id"),
           "job.yaml:15: action[4].job_id: is required"]),
    ("""
     program: echo
     successors: [[other], {job_id: other, args: [1]}, {job_id: other, type: webhook}]
     """, ["job.yaml:2: successors[0]: must be a string, not a list",
           "job.yaml:2: successors[1].args: must be a mapping of names to strings, not a list",
           "job.yaml:2: successors[2].type: unknown key; allowed here: args, job_id"]),
    # retry
    ("""
     program: echo
     retry: {count: 0, backoff: 0.5, on: [failure, crash], max_delay: 1s, delay: 1m, jitter: 1}
     """, ["job.yaml:2: retry.count: must be a whole number of retries from 1 to 1000, not a number 0",
           "job.yaml:2: retry.backoff: must be a number at least 1 (1: every retry waits `delay`; 2: each waits "
           "twice as long as the one before), not a number 0.5",
           "job.yaml:2: retry.on[1]: must be one of failure, timeout, oom, error, not a string 'crash'",
           "job.yaml:2: retry.max_delay: must be at least delay (60 s): the first retry would wait longer than any "
           "other",
           "job.yaml:2: retry.jitter: unknown key; allowed here: backoff, count, delay, max_delay, on"]),
    ("""
     program: echo
     retry: 3
     """, ["job.yaml:2: retry: must be a mapping such as {count: 3, delay: 1m, backoff: 2}, not a number 3"]),
    # metadata
    ("""
     program: echo
     metadata:
       description: [not, text]
       labels: [a, {b: c}]
       owner: anything goes
     """, ["job.yaml:3: metadata.description: must be a string, not a list",
           "job.yaml:4: metadata.labels[1]: must be a string, not a mapping"]),
    ("""
     program: echo
     metadata: just text
     """, ["job.yaml:2: metadata: metadata must be a mapping of keys to values, not a string 'just text'"]),
    # YAML-level problems come alone for their file
    ("""
     program: echo
       oops: 1
     """, ["job.yaml:2: invalid YAML: mapping values are not allowed in this context"]),
]


def load(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "job.yaml").write_text(dedent(text).lstrip("\n"))
    (tmp_path / "other.yaml").write_text("program: echo ok\n")
    (tmp_path / "holidays.calendar").write_text("2026-12-25\n")
    with pytest.raises(InvalidFiles) as caught:
        load_jobs(tmp_path)
    return [str(problem).removeprefix(f"{tmp_path}/") for problem in caught.value.problems]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[f"case{index}" for index in range(len(CASES))])
def test_problems(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert load(tmp_path, text) == expected
