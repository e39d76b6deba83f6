"""Condition types come from the `apsis.conditions` entry points: ours, and any other package's."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_run_view import FakeJobs, FakeView, awaited, make_run

from apsisd.conditions import registry
from apsisd.conditions.base import READY, Wait
from apsisd.errors import ApsisError, InvalidFields

BUILT_IN = {"dependency", "max_running", "skip_duplicate"}
KNOWN = "known condition types: dependency, max_running, skip_duplicate"

# A plug-in condition: waits until `hour` (an arg of the run) is at least `after`. Its parse forgets done().
PLUGIN = '''
from dataclasses import dataclass
from typing import ClassVar
from apsisd.conditions.base import READY, Wait
from apsisd.fields import integer


@dataclass(frozen=True, slots=True, kw_only=True)
class NotBefore:
    type_name: ClassVar[str] = "not_before"
    after: int

    @classmethod
    def parse(cls, fields):
        return cls(after=fields.take("after", integer))

    def bind(self, run, jobs, calendars):
        return self

    def watches(self):
        return frozenset()

    def describe(self):
        return f"hour {self.after}"

    async def check(self, run, view):
        return READY if int(run.args["hour"]) >= self.after else Wait(self.describe())
'''


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[None]:
    """A package installed the way pip would: a module and a dist-info naming its entry point."""
    (tmp_path / "apsis_not_before.py").write_text(PLUGIN)
    info = tmp_path / "apsis_not_before-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: apsis-not-before\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[apsis.conditions]\nnot_before = apsis_not_before:NotBefore\n")
    sys.path.insert(0, str(tmp_path))
    registry.condition_types.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("apsis_not_before", None)
        registry.condition_types.cache_clear()


def test_the_built_in_types_register_through_the_entry_points() -> None:
    types = registry.condition_types()
    assert set(types) >= BUILT_IN
    for name in BUILT_IN:
        assert types[name].type_name == name


def test_a_plugin_package_adds_a_type_that_jobs_can_use(plugin: None) -> None:
    assert set(registry.condition_types()) >= BUILT_IN | {"not_before"}
    condition = registry.parse_condition({"type": "not_before", "after": 9})
    bound = condition.bind(make_run(1, hour="8"), FakeJobs(), {})
    assert awaited(bound.check(make_run(1, hour="8"), FakeView())) == Wait("hour 9")
    assert awaited(bound.check(make_run(1, hour="10"), FakeView())) is READY


def test_unknown_keys_are_reported_even_when_a_plugin_forgets_to(plugin: None) -> None:
    with pytest.raises(InvalidFields) as caught:
        registry.parse_condition({"type": "not_before", "after": 9, "before": 17})
    assert caught.value.problems == [(("before",), "unknown key; allowed here: after, type")]


@pytest.mark.parametrize(("value", "problems"), [
    ({"type": "fortnightly"}, [(("type",), f"unknown condition type 'fortnightly'; {KNOWN}")]),
    ({"count": 1}, [(("type",), f"is required; {KNOWN}")]),
    ({"type": [1]}, [(("type",), f"must be a condition type name, not a list; {KNOWN}")]),
    ("dependency", [((), f"each condition must be a mapping with a type, not a string 'dependency'; {KNOWN}")]),
])
def test_a_condition_without_a_known_type_says_which_types_exist(value: object, problems: list) -> None:
    with pytest.raises(InvalidFields) as caught:
        registry.parse_condition(value)
    assert caught.value.problems == problems


def test_a_type_that_cannot_be_loaded_is_named(plugin: None, tmp_path: Path) -> None:
    (tmp_path / "apsis_not_before.py").write_text("raise ImportError('no such thing')\n")
    with pytest.raises(ApsisError, match=r"condition type 'not_before' \(apsis_not_before:NotBefore, entry point "
                                         r"group apsis.conditions\) cannot be loaded: no such thing"):
        registry.condition_types()
