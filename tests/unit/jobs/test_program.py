"""parse_program(): the three forms, every field, every problem; bind(): templates rendered, deferred fields checked."""
from __future__ import annotations

from dataclasses import FrozenInstanceError
from signal import Signals
from typing import Any

import pytest

from apsisd.errors import InvalidFields
from apsisd.jobs.program import Kind, Limits, Output, Program, Stop, bind, parse_program
from apsisd.jobs.templates import Template


def test_a_string_is_a_shell_command() -> None:
    assert parse_program("backup --all > /tmp/x") == Program(kind=Kind.SHELL, command="backup --all > /tmp/x")


def test_a_list_is_an_argv_and_numbers_are_their_text() -> None:
    assert parse_program(["sleep", 10, 1.5]) == Program(kind=Kind.EXEC, argv=("sleep", "10", "1.5"))


def test_defaults() -> None:
    program = parse_program({"type": "exec", "argv": ["true"]})
    assert program == Program(kind=Kind.EXEC, argv=("true",))
    assert program.stop == Stop(signal=Signals.SIGTERM, grace_period=30.0)
    assert program.limits == Limits()
    assert program.output == Output(split=False)
    assert (program.user, program.group, dict(program.env), program.cwd, program.timeout, program.host) == (
        None, None, {}, None, None, None)
    assert parse_program({"type": "no-op"}) == Program(kind=Kind.NO_OP, duration=0.0, success=True)


def test_every_field() -> None:
    program = parse_program({
        "type": "shell", "command": "run", "user": "batch", "group": 100, "env": {"A": "1", "B_2": 2},
        "cwd": "/srv", "timeout": "1h30m", "stop": {"signal": "int", "grace_period": 90},
        "limits": {"memory": "1.5G", "cpu": "150%", "tasks": 64, "nice": -5}, "output": {"split": True},
        "host": "db1",
    })
    assert program == Program(
        kind=Kind.SHELL, command="run", user="batch", group="100", env={"A": "1", "B_2": "2"}, cwd="/srv",
        timeout=5400.0, stop=Stop(signal=Signals.SIGINT, grace_period=90.0),
        limits=Limits(memory=1610612736, cpu=150.0, tasks=64, nice=-5), output=Output(split=True), host="db1")
    with pytest.raises(FrozenInstanceError):
        program.command = "x"  # type: ignore[misc]


@pytest.mark.parametrize(("written", "expected"), [
    ("TERM", Signals.SIGTERM), ("SIGHUP", Signals.SIGHUP), ("usr1", Signals.SIGUSR1), (9, Signals.SIGKILL),
    ("2", Signals.SIGINT),
])
def test_stop_signals(written: Any, expected: Signals) -> None:
    assert parse_program({"type": "shell", "command": "x", "stop": {"signal": written}}).stop.signal == expected


def test_credentials_name_files_for_systemd_to_read() -> None:
    program = parse_program({"type": "exec", "argv": ["x"], "credentials": {"api-token": "/etc/apsis/api-token"},
                             "encrypted_credentials": {"db.password": "/etc/apsis/db.cred"}})
    assert (dict(program.credentials), dict(program.encrypted_credentials)) == (
        {"api-token": "/etc/apsis/api-token"}, {"db.password": "/etc/apsis/db.cred"})
    assert bind(program, {"who": "x"}, {}) == program


def test_no_op() -> None:
    assert parse_program({"type": "no-op", "duration": "2m", "success": False}) == Program(
        kind=Kind.NO_OP, duration=120.0, success=False)


# (program value, expected (path, message) problems)
PROBLEMS: list[tuple[Any, list[tuple[tuple[str | int, ...], str]]]] = [
    (5, [((), "must be a shell command (a string), an argv (a list) or a mapping with a type, not a number 5")]),
    (None, [((), "must be a shell command (a string), an argv (a list) or a mapping with a type, not nothing (null)")]),
    (True, [((), "must be a shell command (a string), an argv (a list) or a mapping with a type, not a boolean "
                 "True")]),
    ("", [((), "must be a non-empty shell command (without NUL characters)")]),
    ("   ", [((), "must be a non-empty shell command (without NUL characters)")]),
    ([], [((), "must be a non-empty list: the program, then its arguments, not a list; for a shell command use "
               "type: shell with command:")]),
    (["", "x"], [((0,), "the program must not be empty")]),
    (["ls", None, ["a"]], [((1,), "must be a string, not nothing (null)"), ((2,), "must be a string, not a list")]),
    ({"command": "x"}, [(("type",), "is required; one of shell (with command:), exec (with argv:), no-op")]),
    ({"type": "bash", "command": "x"},
     [(("type",), "unknown program type a string 'bash'; one of shell (with command:), exec (with argv:), no-op")]),
    ({"type": "shell"}, [(("command",), "is required")]),
    ({"type": "shell", "argv": ["x"]},
     [(("command",), "is required"),
      (("argv",), "unknown key; allowed here: command, credentials, cwd, encrypted_credentials, env, group, host, "
                  "limits, output, stop, timeout, type, user")]),
    ({"type": "exec", "argv": "ls -l"},
     [(("argv",), "must be a non-empty list: the program, then its arguments, not a string 'ls -l'; for a shell "
                  "command use type: shell with command:")]),
    ({"type": "exec", "command": "ls"},
     [(("argv",), "is required"),
      (("command",), "unknown key; allowed here: argv, credentials, cwd, encrypted_credentials, env, group, host, "
                     "limits, output, stop, timeout, type, user")]),
    ({"type": "no-op", "duration": "soon", "success": "maybe", "user": "x"},
     [(("duration",), "'soon' is not a duration; use a number of seconds or a duration such as 90s, 15m, 4h, 1d or "
                      "1h30m"),
      (("success",), "must be true or false, not a string 'maybe'"),
      (("user",), "unknown key; allowed here: duration, success, type")]),
    ({"type": "shell", "command": "x", "user": "{{ who }}", "group": "g{% if 1 %}{% endif %}"},
     [(("user",), "must be a name or a numeric id, not a template: an arg would choose whom the program runs as, "
                  "and args are an operator's to give; write one job per user"),
      (("group",), "must be a name or a numeric id, not a template: an arg would choose whom the program runs as, "
                   "and args are an operator's to give; write one job per user")]),
    ({"type": "shell", "command": "x", "user": "", "group": [1], "host": None},
     [(("user",), "must be a non-empty name"), (("group",), "must be a string, not a list"),
      (("host",), "must be a string, not nothing (null)")]),
    ({"type": "shell", "command": "x", "env": ["A=1"]},
     [(("env",), "must be a mapping of names to strings, not a list")]),
    ({"type": "shell", "command": "x", "env": {"1A": "x", "OK": "y", "B-C": "z", "D": None}},
     [(("env", "D"), "must be a string, not nothing (null)")]),
    ({"type": "shell", "command": "x", "env": {"1A": "x", "OK": "y", "B-C": "z"}},
     [(("env", "1A"), "is not an environment variable name; use letters, digits and _, not starting with a digit"),
      (("env", "B-C"), "is not an environment variable name; use letters, digits and _, not starting with a digit")]),
    ({"type": "shell", "command": "x", "cwd": "srv/data"},
     [(("cwd",), "must be an absolute path (starting with /), not 'srv/data'")]),
    ({"type": "shell", "command": "x", "timeout": 0},
     [(("timeout",), "must be more than 0 and at most 3.1536e+08 seconds, not 0")]),
    ({"type": "shell", "command": "x", "timeout": "11000d"},
     [(("timeout",), "must be more than 0 and at most 3.1536e+08 seconds, not 9.504e+08")]),
    ({"type": "shell", "command": "x", "timeout": -5},
     [(("timeout",), "must not be negative, not -5; use a number of seconds or a duration such as 90s, 15m, 4h, 1d "
                     "or 1h30m")]),
    ({"type": "shell", "command": "x", "stop": "TERM"},
     [(("stop",), "stop must be a mapping of keys to values, not a string 'TERM'")]),
    ({"type": "shell", "command": "x", "stop": {"signal": "TERMINATE", "grace_period": "long", "after": 1}},
     [(("stop", "signal"), "unknown signal 'TERMINATE'; use a name such as TERM, INT, KILL"),
      (("stop", "grace_period"), "'long' is not a duration; use a number of seconds or a duration such as 90s, 15m, "
                                 "4h, 1d or 1h30m"),
      (("stop", "after"), "unknown key; allowed here: grace_period, signal")]),
    ({"type": "shell", "command": "x", "stop": {"signal": 999}},
     [(("stop", "signal"), "999 is not a signal number on this system")]),
    ({"type": "shell", "command": "x", "stop": {"signal": True}},
     [(("stop", "signal"), "must be a signal name such as TERM or a number, not a boolean True")]),
    ({"type": "shell", "command": "x", "limits": {"memory": "lots", "cpu": 0, "tasks": 0, "nice": 20, "io": 1}},
     [(("limits", "memory"), "'lots' is not a size; use a number of bytes or a size such as 512M or 2G"),
      (("limits", "cpu"), "must be a percentage of one CPU from above 0 to 100000, such as 50 or '150%', not a "
                          "number 0"),
      (("limits", "tasks"), "must be a whole number of tasks, at least 1, not a number 0"),
      (("limits", "nice"), "must be a whole number from -20 (first served) to 19 (last), not a number 20"),
      (("limits", "io"), "unknown key; allowed here: cpu, memory, nice, tasks")]),
    ({"type": "shell", "command": "x", "limits": {"memory": 0, "cpu": "fast", "tasks": 1.5, "nice": True}},
     [(("limits", "memory"), "must be more than 0 bytes, e.g. 512M or 2G, not 0"),
      (("limits", "cpu"), "must be a percentage of one CPU from above 0 to 100000, such as 50 or '150%', not a "
                          "string 'fast'"),
      (("limits", "tasks"), "must be a whole number of tasks, at least 1, not a number 1.5"),
      (("limits", "nice"), "must be a whole number from -20 (first served) to 19 (last), not a boolean True")]),
    ({"type": "shell", "command": "x", "output": True},
     [(("output",), "output must be a mapping of keys to values, not a boolean True")]),
    ({"type": "shell", "command": "x", "output": {"split": "yes", "merge": True}},
     [(("output", "split"), "must be true or false, not a string 'yes'"),
      (("output", "merge"), "unknown key; allowed here: split")]),
    ({"type": "no-op", "output": {"split": True}},
     [(("output",), "unknown key; allowed here: duration, success, type")]),
    ({"type": "shell", "command": "x", "credentials": {".hidden": "/etc/a", "a/b": "/etc/b", "ok": "etc/c",
                                                        "dots": "/etc/../shadow", "tpl": "/etc/{{ who }}"}},
     [((("credentials", ".hidden"),
        "is not a credential name; use letters, digits, _, - and ., not starting with . or -")),
      (("credentials", "a/b"), "is not a credential name; use letters, digits, _, - and ., not starting with . or -"),
      (("credentials", "ok"), "must be an absolute path (starting with /), not 'etc/c'"),
      (("credentials", "dots"), "must be a plain absolute path to a file (no //, . or .. and no trailing /), not "
                                "'/etc/../shadow'"),
      (("credentials", "tpl"), "takes no template: systemd reads the file as root, and no arg may choose which")]),
    ({"type": "shell", "command": "x", "credentials": {"t": "/a"}, "encrypted_credentials": {"t": "/b", "u": "//c"}},
     [(("encrypted_credentials", "u"), "must be a plain absolute path to a file (no //, . or .. and no trailing /), "
                                       "not '//c'")]),
    ({"type": "shell", "command": "x", "credentials": {"t": "/a"}, "encrypted_credentials": {"t": "/b"}},
     [(("encrypted_credentials", "t"), "is also in credentials; give each name once")]),
    ({"type": "no-op", "credentials": {"t": "/a"}},
     [(("credentials",), "unknown key; allowed here: duration, success, type")]),
    ({"type": "shell", "command": "x", "limits": {"cpu": "100001%"}},
     [(("limits", "cpu"), "must be a percentage of one CPU from above 0 to 100000, such as 50 or '150%', not a "
                          "string '100001%'")]),
]


@pytest.mark.parametrize(("value", "expected"), PROBLEMS, ids=[repr(value)[:60] for value, _ in PROBLEMS])
def test_problems(value: Any, expected: list[tuple[tuple[str | int, ...], str]]) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_program(value)
    assert caught.value.problems == expected


TEMPLATED = {
    "type": "shell", "command": "report {{ date }}", "user": "batch", "env": {"DAY": "{{ date }}"},
    "cwd": "/srv/{{ who }}", "timeout": "{{ minutes }}m",
    "stop": {"signal": "{{ sig }}", "grace_period": "{{ minutes }}"},
    "limits": {"memory": "{{ mem }}", "cpu": "{{ cpu }}", "tasks": "{{ n }}", "nice": "{{ n }}"},
}
ARGS = {"date": "2026-03-02", "who": "batch", "minutes": "5", "sig": "HUP", "mem": "1G", "cpu": "50%", "n": "7"}


def test_a_templated_typed_field_is_checked_when_bound() -> None:
    program = parse_program(TEMPLATED)
    assert program.command == "report {{ date }}"
    assert program.cwd == Template(text="/srv/{{ who }}", parse=str)
    assert program.timeout == Template(text="{{ minutes }}m", parse=str)
    assert program.stop == Stop(signal=Template(text="{{ sig }}", parse=str),
                                grace_period=Template(text="{{ minutes }}", parse=str))
    assert program.limits.memory == Template(text="{{ mem }}", parse=str)
    bound = bind(program, ARGS, {})
    assert bound == Program(
        kind=Kind.SHELL, command='report "${APSIS_ARG_date}"', user="batch",
        env={"DAY": "2026-03-02", "APSIS_ARG_date": "2026-03-02"},
        cwd="/srv/batch",
        timeout=300.0, stop=Stop(signal=Signals.SIGHUP, grace_period=5.0),
        limits=Limits(memory=1024**3, cpu=50.0, tasks=7, nice=7))


def test_bind_renders_argv_and_no_op_fields() -> None:
    program = parse_program({"type": "exec", "argv": ["echo", "{{ date }}", "{{ job_id }}"]})
    assert bind(program, {"date": "d", "job_id": "j"}, {}).argv == ("echo", "d", "j")
    no_op = parse_program({"type": "no-op", "duration": "{{ s }}", "success": "{{ ok }}"})
    assert bind(no_op, {"s": "2m", "ok": "false"}, {}) == Program(kind=Kind.NO_OP, duration=120.0, success=False)


def test_bind_reports_every_bad_value_at_its_path() -> None:
    program = parse_program(TEMPLATED)
    args = {**ARGS, "who": "x", "minutes": "soon", "sig": "NOPE", "mem": "-1", "n": "99"}
    del args["date"]
    with pytest.raises(InvalidFields) as caught:
        bind(program, args, {})
    assert caught.value.problems == [
        (("program", "command"), "template: 'date' is undefined"),
        (("program", "env", "DAY"), "template: 'date' is undefined"),
        (("program", "timeout"), "'soonm' is not a duration; use a number of seconds or a duration such as 90s, "
                                 "15m, 4h, 1d or 1h30m"),
        (("program", "stop", "signal"), "unknown signal 'NOPE'; use a name such as TERM, INT, KILL"),
        (("program", "stop", "grace_period"), "'soon' is not a duration; use a number of seconds or a duration such "
                                              "as 90s, 15m, 4h, 1d or 1h30m"),
        (("program", "limits", "memory"), "'-1' is not a size; use a number of bytes or a size such as 512M or 2G"),
        (("program", "limits", "nice"), "must be a whole number from -20 (first served) to 19 (last), not a string "
                                        "'99'"),
    ]


def test_a_templated_path_must_still_be_absolute_once_rendered() -> None:
    program = parse_program({"type": "shell", "command": "x", "cwd": "{{ dir }}"})
    assert bind(program, {"dir": "/data"}, {}).cwd == "/data"
    with pytest.raises(InvalidFields) as caught:
        bind(program, {"dir": "data"}, {})
    assert caught.value.problems == [(("program", "cwd"), "must be an absolute path (starting with /), not 'data'")]


@pytest.mark.parametrize("value", ["2026-11-26", "eu west", "x; rm -rf /", "$(reboot)", "it's", "", '"; id #'])
def test_a_shell_command_refers_to_each_value_which_goes_in_the_env(value: str) -> None:
    """The code is the same whatever the value: the value is only ever in the env (see test_shell_templates)."""
    program = parse_program("load --date {{ date }}")
    bound = bind(program, {"date": value}, {})
    assert (bound.command, dict(bound.env)) == ('load --date "${APSIS_ARG_date}"', {"APSIS_ARG_date": value})
    jinja = parse_program('load --date "{{ date | lower }}"')  # an expression: a variable of its own
    bound = bind(jinja, {"date": value}, {})
    assert (bound.command, dict(bound.env)) == ('load --date "${APSIS_TEMPLATE_1}"',
                                                {"APSIS_TEMPLATE_1": value.lower()})


def test_an_sh_c_script_in_an_argv_refers_to_values_its_other_items_get_them() -> None:
    program = parse_program(["/usr/bin/env", "bash", "-euo", "pipefail", "-c", "echo {{ a }}", "{{ a }}"])
    bound = bind(program, {"a": "$(id)"}, {})
    assert (bound.argv, dict(bound.env)) == (
        ("/usr/bin/env", "bash", "-euo", "pipefail", "-c", 'echo "${APSIS_ARG_a}"', "$(id)"), {"APSIS_ARG_a": "$(id)"})


def test_an_argv_and_the_other_fields_get_the_values_as_they_are() -> None:
    program = parse_program({"type": "exec", "argv": ["/bin/echo", "{{ who }}"], "cwd": "/srv/{{ who }}",
                             "env": {"WHO": "{{ who }}"}})
    bound = bind(program, {"who": "a b;c"}, {})
    assert (bound.argv, bound.cwd, dict(bound.env)) == (("/bin/echo", "a b;c"), "/srv/a b;c", {"WHO": "a b;c"})
