"""key_lines(): the line of every key of a TOML file, for FILE:LINE messages about values tomllib read."""
from __future__ import annotations

import time
import tomllib

from apsisd.config.toml_lines import key_lines, line_of

TEXT = '''\
# a comment with a [bracket] and key = "value"
top = 1
"quoted key" = 'literal'  # comment
dotted . key = """multi
line "" \\""" still
"""
after = 2

[schedule]
horizon = "1d"
inline = { a = 1, "b" = [1, 2] }
date = 1979-05-27 07:32:00Z

[api]
listen = [
  "unix:/run/a.sock",  # first
  # a comment between items
  'tcp:127.0.0.1:5050',
  [1,
   2],
]
[[job]]
name = "a"
[[job]]
name = "b"
lit = \'\'\'x
\'\'\'\'\'
last = true
'''


def test_every_key_table_and_item_has_its_line() -> None:
    tomllib.loads(TEXT)  # the scanner is only ever given valid TOML
    assert key_lines(TEXT) == {
        ("top",): 2,
        ("quoted key",): 3,
        ("dotted",): 4, ("dotted", "key"): 4,
        ("after",): 7,
        ("schedule",): 9, ("schedule", "horizon"): 10,
        ("schedule", "inline"): 11, ("schedule", "inline", "a"): 11, ("schedule", "inline", "b"): 11,
        ("schedule", "inline", "b", 0): 11, ("schedule", "inline", "b", 1): 11,
        ("schedule", "date"): 12,
        ("api",): 14, ("api", "listen"): 15,
        ("api", "listen", 0): 16, ("api", "listen", 1): 18, ("api", "listen", 2): 19,
        ("api", "listen", 2, 0): 19, ("api", "listen", 2, 1): 20,
        ("job",): 22, ("job", 0): 22, ("job", 0, "name"): 23,
        ("job", 1): 24, ("job", 1, "name"): 25, ("job", 1, "lit"): 26,
        ("job", 1, "last"): 28,
    }


def test_line_of_falls_back_to_the_nearest_holder() -> None:
    lines = key_lines(TEXT)
    assert line_of(lines, ("api", "listen", 1)) == 18
    assert line_of(lines, ("schedule", "missing")) == 9
    assert line_of(lines, ("nowhere",)) == 1
    assert line_of(lines, ()) == 1


def test_nesting_deeper_than_the_scanner_follows_gives_the_lines_found_so_far() -> None:
    lines = key_lines("a = 1\nb = " + "[" * 5000 + "]" * 5000 + "\n")
    assert (lines[("a",)], lines[("b",)], lines[("b", 0)]) == (1, 2, 2)


def test_lines_are_counted_in_linear_time() -> None:
    text = "".join(f"k{index} = {index}\n" for index in range(50_000))
    started = time.thread_time()
    lines = key_lines(text)
    assert lines[("k49999",)] == 50_000
    assert time.thread_time() - started < 5.0  # counted from the start for each key: 1.25 billion characters
