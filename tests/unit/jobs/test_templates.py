"""Templates: what check() finds at load time, render() at bind time, and the business-day helpers."""
from __future__ import annotations

from datetime import date

import pytest

from apsisd.calendars.calendar import Calendar
from apsisd.errors import InvalidFields
from apsisd.jobs.templates import Template, check, check_strings, has_template, render

UK = Calendar("uk", frozenset(range(5)), frozenset({date(2026, 4, 3), date(2026, 4, 6)}))
CALENDARS = {"uk": UK}
NAMES = ("date", "region", "run_id", "job_id")


# (text, expected messages) with NAMES defined and CALENDARS known
CHECKS: list[tuple[str, list[str]]] = [
    ("plain text", []),
    ("echo ${#array[@]} {#not a template#}", []),  # no {{ or {%: not a template at all
    ("{{ date }} {{ region }} {{ run_id }} {{ job_id }}", []),
    ("{{ date | upper }}{% if region == 'UK' %}x{% endif %}", []),
    ("{% for day in [date, region] %}{{ day }}{% endfor %}", []),
    ("{% set d = prev_business_day(date, 'uk') %}{{ d }}", []),
    ("{{ next_business_day(date, 'uk') }} {{ prev_business_day(date, calendar='Mon-Fri') }}", []),
    ("{{ business_day(date, -2, 'all') }} {{ business_day(date, 1, calendar='Tue,Thu') }}", []),
    ("{{ next_business_day(date, region) }}", []),  # not a literal: checked when rendered
    ("{{ dat }}",
     ["template uses undefined name dat; defined here: date, job_id, region, run_id "
      "(declare a param in params: to use it)"]),
    ("{{ b }} {{ a }} {{ a }}",
     ["template uses undefined names a, b; defined here: date, job_id, region, run_id "
      "(declare a param in params: to use it)"]),
    ("{{ date.year }} {{ time }}",
     ["template uses undefined name time; defined here: date, job_id, region, run_id "
      "(declare a param in params: to use it)"]),
    ("{{ date ",
     ["template syntax error: unexpected end of template, expected 'end of print statement'. (template line 1)"]),
    ("line one\n{% if date %}\nno end",
     ["template syntax error: Unexpected end of template. Jinja was looking for the following tags: 'elif' or "
      "'else' or 'endif'. The innermost block that needs to be closed is 'if'. (template line 2)"]),
    ("{{ date }} {% endfor %}",
     ["template syntax error: Encountered unknown tag 'endfor'. (template line 1)"]),
    ("{{ next_business_day(date, 'nyse') }}",
     ["template: unknown calendar 'nyse'; use all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday "
      "calendar: uk"]),
    ("{{ business_day(date, 1, calendar='Mon-Fry') }} {{ nope }}",
     ["template uses undefined name nope; defined here: date, job_id, region, run_id "
      "(declare a param in params: to use it)",
      "template: unknown calendar 'Mon-Fry'; use all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday "
      "calendar: uk"]),
    ("{{ next_business_day(date) }} {{ business_day(date, 'uk') }} {{ prev_business_day(date, 'uk', 1) }}",
     ["template calls next_business_day with 1 arguments; use next_business_day(date, calendar)",
      "template calls business_day with 2 arguments; use business_day(date, shift, calendar)",
      "template calls prev_business_day with 3 arguments; use prev_business_day(date, calendar)"]),
]


@pytest.mark.parametrize(("text", "expected"), CHECKS, ids=[text for text, _ in CHECKS])
def test_check(text: str, expected: list[str]) -> None:
    assert check(text, NAMES, CALENDARS) == expected


def test_check_with_no_names_says_so() -> None:
    assert check("{{ x }}", (), {}) == [
        "template uses undefined name x; defined here: none (declare a param in params: to use it)"]


def test_has_template() -> None:
    assert has_template("a {{ b }}") and has_template("{% raw %}{% endraw %}")
    assert not has_template("a { b } {# c #} ${#d}")


def test_check_strings_reports_each_string_at_its_path() -> None:
    value = {"type": "shell", "command": "{{ nope }}", "env": {"A": "{{ date }}", "B": "{{ x"},
             "argv": ["ok", "{{ y }}"], "timeout": 5, "flag": True}
    with pytest.raises(InvalidFields) as caught:
        check_strings(value, NAMES, CALENDARS)
    assert [(path, message.split(";")[0]) for path, message in caught.value.problems] == [
        (("command",), "template uses undefined name nope"),
        (("env", "B"), "template syntax error: unexpected end of template, expected 'end of print statement'. "
                       "(template line 1)"),
        (("argv", 1), "template uses undefined name y"),
    ]
    check_strings({"command": "{{ date }}", "n": None}, NAMES, CALENDARS)
    check_strings("{{ region }}", NAMES, CALENDARS)


ARGS = {"date": "2026-04-02", "region": "UK", "run_id": "r42", "job_id": "reports/daily"}

# (template, rendered with ARGS): 2026-04-03 (Fri) and 2026-04-06 (Mon) are holidays in `uk`.
RENDERS: list[tuple[str, str]] = [
    ("no template {# kept #}", "no template {# kept #}"),
    ("report --date {{ date }} --region {{ region }}", "report --date 2026-04-02 --region UK"),
    ("{{ job_id }}/{{ run_id }}", "reports/daily/r42"),
    ("{{ next_business_day(date, 'uk') }}", "2026-04-07"),
    ("{{ next_business_day(date, 'Mon-Fri') }}", "2026-04-03"),
    ("{{ next_business_day(date, 'all') }}", "2026-04-03"),
    ("{{ prev_business_day('2026-04-07', 'uk') }}", "2026-04-02"),
    ("{{ prev_business_day(date, calendar='Tue,Thu') }}", "2026-03-31"),
    ("{{ business_day(date, 0, 'uk') }}", "2026-04-02"),
    ("{{ business_day('2026-04-04', 0, 'uk') }}", "2026-04-04"),  # 0: the date itself, business day or not
    ("{{ business_day(date, 1, 'uk') }}", "2026-04-07"),
    ("{{ business_day(date, 3, 'uk') }}", "2026-04-09"),
    ("{{ business_day(date, -1, 'uk') }}", "2026-04-01"),
    ("{{ business_day('2026-04-07', '-2', 'uk') }}", "2026-04-01"),  # args are strings: a shift may be one
    ("{{ business_day(date, -5, 'Mon-Fri') }}", "2026-03-26"),
    ("{% if region == 'UK' %}gb{% else %}other{% endif %}", "gb"),
    ("{{ date[:4] }}\n", "2026\n"),
]


@pytest.mark.parametrize(("text", "expected"), RENDERS, ids=[text for text, _ in RENDERS])
def test_render(text: str, expected: str) -> None:
    assert render(text, ARGS, CALENDARS) == expected


# (template, message of the InvalidFields render raises)
RENDER_ERRORS: list[tuple[str, str]] = [
    ("{{ missing }}", "template: 'missing' is undefined"),
    ("{{ date ", "template syntax error: unexpected end of template, expected 'end of print statement'."),
    ("{{ next_business_day(date, 'nyse') }}",
     "unknown calendar 'nyse'; use all, weekdays such as Mon-Fri, Tue,Thu or Sat-Mon, or a holiday calendar: uk"),
    ("{{ next_business_day(region, 'uk') }}", "'UK' is not a date; business-day helpers take YYYY-MM-DD"),
    ("{{ business_day(date, 'x', 'uk') }}", "business_day: shift must be a whole number such as -1 or 2, not 'x'"),
    ("{{ business_day(date, 1.5, 'uk') }}", "business_day: shift must be a whole number such as -1 or 2, not 1.5"),
    ("{{ next_business_day(date, calendar='uk', x=1) }}",
     "template failed: TypeError: _helpers.<locals>.next_business_day() got an unexpected keyword argument 'x'"),
    ("{{ ''.__class__.__mro__ }}",
     "template failed: SecurityError: access to attribute '__class__' of 'str' object is unsafe."),
    ("{{ 1 / 0 }}", "template failed: ZeroDivisionError: division by zero"),
]


@pytest.mark.parametrize(("text", "message"), RENDER_ERRORS, ids=[text for text, _ in RENDER_ERRORS])
def test_render_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        render(text, ARGS, CALENDARS)
    assert caught.value.problems == [((), message)]


def test_render_leaves_no_autoescape() -> None:
    assert render("{{ x }}", {"x": "<a & 'b'>"}, {}) == "<a & 'b'>"


def test_a_template_field_compares_by_its_text() -> None:
    assert Template(text="{{ a }}", parse=int) == Template(text="{{ a }}", parse=str)
    assert Template(text="{{ a }}", parse=int) != Template(text="{{ b }}", parse=int)


# Texts the fast path for `{{ name }}` templates must read exactly as Jinja does.
SIMPLE_OR_NOT = [
    "{{ date }}", "{{date}}-{{ region }}", "a {{  date\t}} b", "{{ run_id }}{{ job_id }}", "{{ true }}",
    "{{ None }} {{ date }}", "{{{ date }}}", "{{ date }}}", "{{{ date }}", "{{ date }} {# c #}", "{{ date }}\r\n",
    "{{ date }} {% if region %}x{% endif %}", "{{ date }} }} {{", "%} {{ date }} {%", "{{ date.upper() }}",
    "{{ date }}\n", "{{ next_business_day }}",
]


@pytest.mark.parametrize("text", SIMPLE_OR_NOT)
def test_the_fast_path_agrees_with_jinja(text: str) -> None:
    import jinja2.meta

    from apsisd.jobs.templates import ENV, _parse, simple_names

    simple = simple_names(text)
    try:
        jinja_names: frozenset[str] | None = frozenset(jinja2.meta.find_undeclared_variables(ENV.parse(text)))
    except jinja2.TemplateSyntaxError:
        jinja_names = None
    if simple is not None:
        assert simple == jinja_names
        if simple <= ARGS.keys():
            assert render(text, ARGS, CALENDARS) == ENV.from_string(text).render(ARGS)
    result = _parse(text)
    assert (result if isinstance(result, str) else None) == (None if jinja_names is not None else result)
