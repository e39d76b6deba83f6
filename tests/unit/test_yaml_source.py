"""read_yaml(): the typing rules, the line of every field path, and every YAML-level problem."""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from apsisd.errors import InvalidFiles
from apsisd.yaml_source import JobFileLoader, read_yaml

# (scalar as written, value read)
SCALARS: list[tuple[str, Any]] = [
    # Times of day and dates stay text (PyYAML: 630, 37800, date objects).
    ("10:30", "10:30"),
    ("10:30:00", "10:30:00"),
    ("2026-01-31", "2026-01-31"),
    ("2026-01-31T09:30:00Z", "2026-01-31T09:30:00Z"),
    ("2026-01-31 09:30:00", "2026-01-31 09:30:00"),
    # YAML 1.2 booleans only.
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"), ("Yes", "Yes"),
    # Null.
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None), ("nil", "nil"),
    # Decimal integers, no leading zeros, no other bases, no underscores.
    ("0", 0), ("42", 42), ("-7", -7), ("+7", 7), ("007", "007"), ("0x1F", "0x1F"), ("0o17", "0o17"),
    ("0b101", "0b101"), ("1_000", "1_000"), ("190:20:30", "190:20:30"),
    # Decimal floats.
    ("1.5", 1.5), ("-0.5", -0.5), (".5", 0.5), ("1.", 1.0), ("1e3", 1000.0), ("2.5E-1", 0.25),
    (".inf", ".inf"), (".nan", ".nan"), ("1.2.3", "1.2.3"),
    # Durations and sizes are text for their parsers.
    ("90s", "90s"), ("1h30m", "1h30m"), ("512M", "512M"),
    # Quoted text is text.
    ("'42'", "42"), ('"true"', "true"), ("'~'", "~"),
    # Explicit core tags still work.
    ("!!str 10", "10"), ("!!int 10", 10), ("!!float 1", 1.0),
    ("<<", "<<"),
]


@pytest.mark.parametrize(("written", "expected"), SCALARS, ids=[w or "empty" for w, _ in SCALARS])
def test_scalars_are_typed_only_when_unambiguous(written: str, expected: Any) -> None:
    value = read_yaml(f"key: {written}\n", "f.yaml").value["key"]
    assert value == expected
    assert type(value) is type(expected)


def test_the_c_parser_is_used_when_present() -> None:
    assert issubclass(JobFileLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def test_each_field_path_has_the_line_of_its_key_or_item() -> None:
    document = read_yaml(
        "params: [date]\n"          # 1
        "schedule:\n"               # 2
        "  - type: daily\n"         # 3
        "    daytime:\n"            # 4
        "      - 09:30\n"           # 5
        "      - 16:00\n"           # 6
        "program:\n"                # 7
        "  type: shell\n"           # 8
        "\n"                        # 9
        "  command: >-\n"           # 10
        "    echo hi\n",            # 11
        "f.yaml")
    assert document.value["schedule"][0]["daytime"] == ["09:30", "16:00"]
    assert document.value["program"]["command"] == "echo hi"
    expected = {
        (): 1, ("params",): 1, ("params", 0): 1, ("schedule",): 2, ("schedule", 0): 3, ("schedule", 0, "type"): 3,
        ("schedule", 0, "daytime"): 4, ("schedule", 0, "daytime", 0): 5, ("schedule", 0, "daytime", 1): 6,
        ("program",): 7, ("program", "type"): 8, ("program", "command"): 10,
    }
    assert {path: document.line(path) for path in expected} == expected
    # A path the file does not have is reported at its nearest parent.
    assert document.line(("schedule", 0, "tz")) == 3
    assert document.line(("program", "limits", "memory")) == 7
    assert document.line(("nothing",)) == 1


def test_an_empty_file_reads_as_none() -> None:
    for text in ("", "\n\n", "# only a comment\n", "---\n"):
        document = read_yaml(text, "f.yaml")
        assert document.value is None
        assert document.line(("program",)) == 1


def test_anchors_aliases_and_merge_keys() -> None:
    document = read_yaml(
        "common: &common {tz: Europe/London, calendar: Mon-Fri}\n"   # 1
        "schedule:\n"                                               # 2
        "  - <<: *common\n"                                          # 3
        "    daytime: 09:30\n"                                       # 4
        "    tz: UTC\n"                                              # 5
        "  - *common\n",                                             # 6
        "f.yaml")
    first, second = document.value["schedule"]
    assert first == {"daytime": "09:30", "tz": "UTC", "calendar": "Mon-Fri"}
    assert second == {"tz": "Europe/London", "calendar": "Mon-Fri"}
    assert document.line(("schedule", 0, "tz")) == 5  # the mapping's own key wins, with its line
    assert document.line(("schedule", 0, "calendar")) == 1  # merged: where it was written


def test_merging_a_list_of_mappings_takes_the_first_given() -> None:
    document = read_yaml("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n", "f.yaml")
    assert document.value["c"] == {"x": 1, "y": 2}


# (file text, expected problems as str(FileProblem))
PROBLEMS: list[tuple[str, list[str]]] = [
    ("a: 1\nb: 2\na: 3\n",
     ["f.yaml:3: duplicate key 'a' (first at line 1); a key may appear once in a mapping"]),
    ("program:\n  type: shell\n  command: a\n  command: b\n  type: exec\n",
     ["f.yaml:4: duplicate key 'command' (first at line 3); a key may appear once in a mapping",
      "f.yaml:5: duplicate key 'type' (first at line 2); a key may appear once in a mapping"]),
    ("a: {x: 1, x: 2}\n",
     ["f.yaml:1: duplicate key 'x' (first at line 1); a key may appear once in a mapping"]),
    ("? [a, b]\n: 1\n",
     ["f.yaml:1: a mapping key must be a plain name, not a list or mapping"]),
    ("a: !!timestamp 2026-01-01\n",
     ["f.yaml:1: unsupported YAML tag 'tag:yaml.org,2002:timestamp'; write the value as plain text"]),
    ("a: !custom x\n",
     ["f.yaml:1: unsupported YAML tag '!custom'; write the value as plain text"]),
    ("a: !!set {x, y}\n",
     ["f.yaml:1: unsupported YAML tag 'tag:yaml.org,2002:set'; use a plain list or mapping"]),
    ("a: !!int ten\n",
     ["f.yaml:1: 'ten' is not a valid int"]),
    ("a: &x [1, *x]\n",
     ["f.yaml:1: a YAML alias refers to a value that contains it; remove the loop"]),
    ("a: 1\nb:\n  <<: 5\n",
     ["f.yaml:3: `<<` merges a mapping (or a list of mappings) into this one"]),
    # Syntax errors: one problem, at the line the parser stopped.
    ("a: 1\nb: [1, 2\nc: 3\n",
     ["f.yaml:3: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence)"]),
    ("a: b: c\n",
     ["f.yaml:1: invalid YAML: mapping values are not allowed in this context"]),
    ("a: 1\n  b: 2\n",
     ["f.yaml:2: invalid YAML: mapping values are not allowed in this context"]),
    ("a: 'open\n",
     ["f.yaml:2: invalid YAML: found unexpected end of stream (while scanning a quoted scalar)"]),
    ("a: *nowhere\n",
     ["f.yaml:1: invalid YAML: found undefined alias"]),
    ("a: 1\n---\nb: 2\n",
     ["f.yaml:2: invalid YAML: but found another document (expected a single document in the stream)"]),
    ("a:\tb\n\tc: 1\n",
     ["f.yaml:2: invalid YAML: found a tab character that violates indentation (while scanning a plain scalar)"]),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEMS, ids=[text for text, _ in PROBLEMS])
def test_yaml_level_problems(text: str, expected: list[str]) -> None:
    with pytest.raises(InvalidFiles) as caught:
        read_yaml(text, "f.yaml")
    assert [str(problem) for problem in caught.value.problems] == expected
