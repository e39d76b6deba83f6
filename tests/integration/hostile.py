"""What a hostile caller puts in a request, by kind, and where it puts it: for the OpenAPI fuzzing
(test_api_openapi.py), which from the document alone generates only what the document describes.

Each kind once made apsisd answer 500: instants at the ends of the calendar with an offset (they leave years 1 to
9999 in UTC), digit strings of thousands of digits (int() refuses more than 4,300) or of digits only str.isdigit()
knows ('²', '٣'), bodies nested deep (RecursionError), numbers past float's or int64's range in numeric fields.
Control characters and odd spellings are added. Every kind goes to every place it can, so that each pair is tried
on a fixed budget, whatever a derandomised search would favour. Two classes cannot go through schemathesis and are
explicit cases in test_api_hostile.py: a body nested 100,000 deep (the client's own json.dumps would recurse) and
the events stream's `since` (the fuzzing leaves out the stream, which never ends).
"""
from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

TIMES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z",
         "9999-12-31T23:59:59.999999+00:00", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-23:59",
         "2026-02-30T00:00:00Z", "2026-12-06T10:00:00", "+002026-12-06T10:00:00Z")
WORDS = ("", "NaN", "Infinity", "-0", "1e400", "0x10", "1_000", " 5 ", "+5", "-5", "../..", "%00", "bytes=0-9,10-19",
         "bytes=-", "bytes=a-b")
HUGE = st.integers(300, 5000).map(lambda count: "9" * count)
UNICODE_DIGITS = st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=6)

TEXTS: dict[str, st.SearchStrategy[Any]] = {
    "times": st.sampled_from(TIMES),
    "words": st.sampled_from(WORDS),
    "many digits": HUGE,
    "unicode digits": UNICODE_DIGITS,
    "digits in a form": st.one_of(*(HUGE.map(form.format) for form in ("bytes={}-", "bytes=-{}", "bytes=0-{}", "r{}")),
                                  *(UNICODE_DIGITS.map(form.format) for form in ("bytes={}-", "r{}"))),
    "controls": st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp"]), min_size=1, max_size=4).map(
        lambda text: f"a{text}b"),
}
HEADER_TEXTS: dict[str, st.SearchStrategy[Any]] = {
    "times": st.sampled_from(TIMES),
    "words": st.sampled_from([word for word in WORDS if word == word.strip()]),
    "digits in a form": st.one_of(*(HUGE.map(form.format) for form in ("{}", "bytes={}-", "bytes=-{}", "bytes=0-{}"))),
}
VALUES: dict[str, st.SearchStrategy[Any]] = {
    **TEXTS,
    "numbers": st.one_of(st.sampled_from([10**400, -10**400, 2**63, 2**64, -(2**63) - 1, 1e308, -1e308, 5e-324, -0.0,
                                          True, None]),
                         st.integers(min_value=2**63, max_value=10**999), st.integers(max_value=-(2**63))),
    "nested": st.integers(33, 800).flatmap(lambda depth: st.sampled_from([
        json.loads("[" * depth + "]" * depth), json.loads('{"a":' * depth + "1" + "}" * depth)])),
}

CREATE = ("POST", "/api/v1/runs")
BODY_FIELDS = ("at", "count", "name", "job_id", "args")
# The ad hoc program's numeric and timed fields, which the document leaves free-form (a program as a job writes it).
PROGRAM_FIELDS = ("timeout", "limits.memory", "limits.cpu", "limits.tasks", "limits.nice", "stop.grace_period",
                  "stop.signal")


def places(operation: Any) -> list[str]:
    """Where a value can go in a request of this schemathesis operation: each header and query parameter it
    documents, its path's parameters and, for POST /api/v1/runs, each field of the body and of an ad hoc program."""
    found = [*(f"header:{each.name}" for each in operation.headers),
             *(f"query:{each.name}" for each in operation.query), *(["path"] if operation.path_parameters else [])]
    if (operation.method.upper(), operation.path) == CREATE:
        found += [f"body:{name}" for name in BODY_FIELDS] + [f"program:{name}" for name in PROGRAM_FIELDS]
    return found


def kinds(place: str) -> dict[str, st.SearchStrategy[Any]]:
    """The kinds of value `place` can carry: a URL and a header carry text (sendable: a URL's parts UTF-8, a
    header's printable ASCII without edge spaces), a body anything JSON."""
    if place.startswith(("body:", "program:")):
        return VALUES
    if place.startswith("header:"):
        return HEADER_TEXTS
    return TEXTS


def put(case: Any, place: str, value: Any) -> None:
    """Put `value` at `place` in `case`."""
    kind, _, name = place.partition(":")
    if kind == "header":
        case.headers = {**(case.headers or {}), name: value}
    elif kind == "query":
        case.query = {**(case.query or {}), name: value}
    elif kind == "path":
        case.path_parameters = {**case.path_parameters, next(iter(case.path_parameters)): value}
    elif kind == "body":
        case.body = {**(case.body if isinstance(case.body, dict) else {"job_id": "quick"}), name: value}
    else:
        program: dict[str, Any] = {"type": "exec", "argv": ["/bin/true"]}
        *outer, last = name.split(".")
        inner = program
        for each in outer:
            inner = inner.setdefault(each, {})
        inner[last] = value
        case.body = {"program": program}
