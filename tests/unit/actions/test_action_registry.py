"""Action types come from the `apsis.actions` entry points, ours and any other package's; `if` is read for all."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_action_context import FakeContext, awaited, make_run

from apsisd.actions import registry
from apsisd.errors import ApsisError, InvalidFields
from apsisd.runs.state import FINISHED, State

BUILT_IN = {"schedule", "webhook"}
KNOWN = "known action types: schedule, webhook"

# A plug-in action: notes `text` on the run.
PLUGIN = '''
from dataclasses import dataclass
from typing import ClassVar
from apsisd.fields import string
from apsisd.runs.state import FINISHED


@dataclass(frozen=True, slots=True, kw_only=True)
class Say:
    type_name: ClassVar[str] = "say"
    text: str
    states: frozenset = FINISHED

    @classmethod
    def parse(cls, fields):
        parsed = cls(text=fields.take("text", string))
        fields.done()
        return parsed

    async def __call__(self, run, context):
        await context.note(run.id, self.text)
'''


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[None]:
    """A package installed the way pip would: a module and a dist-info naming its entry point."""
    (tmp_path / "apsis_say.py").write_text(PLUGIN)
    info = tmp_path / "apsis_say-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: apsis-say\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[apsis.actions]\nsay = apsis_say:Say\n")
    sys.path.insert(0, str(tmp_path))
    registry.action_types.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("apsis_say", None)
        registry.action_types.cache_clear()


def test_the_built_in_types_register_through_the_entry_points() -> None:
    types = registry.action_types()
    assert set(types) >= BUILT_IN
    for name in BUILT_IN:
        assert types[name].type_name == name


def test_a_plugin_package_adds_a_type_that_jobs_can_use_with_if(plugin: None) -> None:
    assert set(registry.action_types()) >= BUILT_IN | {"say"}
    action = registry.parse_action({"type": "say", "text": "done", "if": {"states": ["failure", "error"]}})
    assert action.states == {State.FAILURE, State.ERROR}
    context = FakeContext()
    awaited(action(make_run(3), context))
    assert context.notes == [("r3", "done")]


@pytest.mark.parametrize(("written", "states"), [
    (None, FINISHED),  # not every transition, as in Apsis
    ({"states": "running"}, {State.RUNNING}),
    ({"states": ["success", "skipped", "success"]}, {State.SUCCESS, State.SKIPPED}),
])
def test_if_states(written: object, states: frozenset) -> None:
    value = {"type": "webhook", "url": "https://x.example.com"}
    assert registry.parse_action(value if written is None else {**value, "if": written}).states == states


@pytest.mark.parametrize(("value", "problems"), [
    ({"type": "email"}, [(("type",), f"unknown action type 'email'; {KNOWN}")]),
    ({"if": {"states": "failure"}}, [(("type",), f"is required; {KNOWN}")]),
    ({"type": "schedule", "job_id": "x", "if": {"states": []}},
     [(("if", "states"), "must name at least one state: scheduled, waiting, starting, running, stopping, success, "
                         "failure, error, skipped")]),
    ({"type": "schedule", "job_id": "x", "if": {"state": "failure"}},
     [(("if", "states"), "is required"), (("if", "state"), "unknown key; allowed here: states")]),
    ({"type": "schedule", "job_id": "x", "when": "now"},
     [(("when",), "unknown key; allowed here: args, if, job_id, type")]),
])
def test_problems(value: object, problems: list) -> None:
    with pytest.raises(InvalidFields) as caught:
        registry.parse_action(value)
    assert caught.value.problems == problems


def test_a_type_that_cannot_be_loaded_is_named(plugin: None, tmp_path: Path) -> None:
    (tmp_path / "apsis_say.py").write_text("raise ImportError('no such thing')\n")
    with pytest.raises(ApsisError, match=r"action type 'say' \(apsis_say:Say, entry point group apsis.actions\) "
                                         r"cannot be loaded: no such thing"):
        registry.action_types()
