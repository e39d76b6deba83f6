"""The table of settings: every Config field filled by it, each key once, every example and default a value its
kind reads back, and the objects several keys make (Scheduling, ApiLimits) at their own defaults."""
from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import fields as dataclass_fields
from itertools import groupby
from pathlib import Path

import pytest

from apsisd.config.api_limits import ApiLimits
from apsisd.config.kinds import duration_text, toml_value
from apsisd.config.load import Config, config_fields
from apsisd.config.owner import Owner
from apsisd.config.setting import Derived, Setting, settle
from apsisd.config.settings import GROUPS, SETTINGS
from apsisd.jobs.scheduling import DEFAULTS

ROOT = Owner(privileged=True, env={})


def _toml(text: str) -> object:
    return tomllib.loads(f"value = {text}")["value"]


def test_every_config_field_is_filled_by_the_settings_and_nothing_else() -> None:
    tops = {setting.dest.partition(".")[0] for setting in SETTINGS}
    assert tops == {field.name for field in dataclass_fields(Config)} - {"file", "hosts"}  # hosts: config/hosts.py
    assert set(GROUPS) == {dest for dest in tops if any(s.dest.startswith(f"{dest}.") for s in SETTINGS)}
    for name, make in GROUPS.items():
        attributes = {s.dest.removeprefix(f"{name}.") for s in SETTINGS if s.dest.startswith(f"{name}.")}
        assert attributes == {field.name for field in dataclass_fields(make)}, name


def test_each_key_once_and_the_top_level_keys_first() -> None:
    assert not [key for key, count in Counter((s.section, s.key) for s in SETTINGS).items() if count > 1]
    runs = [section for section, _ in groupby(setting.section for setting in SETTINGS)]
    assert runs[0] is None and None not in runs[1:]  # TOML: no top-level key after a [table]
    assert len(runs) == len(set(runs)), "each [table]'s keys together"


def test_the_objects_made_of_several_keys_default_to_their_own_defaults() -> None:
    made = config_fields(settle(SETTINGS, {}, ROOT))
    assert (made["schedule"], made["api_limits"]) == (DEFAULTS, ApiLimits())


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_each_setting_explains_itself_and_its_values_read_back(setting: Setting) -> None:
    assert setting.doc.strip() == setting.doc and setting.doc.endswith((".", "...")), "one paragraph, a sentence"
    assert bool(setting.unset) == (setting.default is None), "`unset` says what only a missing value means"
    assert setting.example or setting.default is not None, "a key without a default shows an example"
    read = setting.kind.reader(Path("/etc/apsis"))
    if setting.example:
        read(_toml(setting.example))
    default = settle(SETTINGS, {}, ROOT)[setting.dest]
    if default is not None and not isinstance(setting.default, Derived):
        assert read(_toml(setting.kind.write(default))) == default


@pytest.mark.parametrize(("seconds", "text"), [
    (86400.0, '"1d"'), (172800, '"2d"'), (7200.0, '"2h"'), (5400.0, '"90m"'), (90.0, '"90s"'), (30.0, '"30s"'),
    (0.5, '"0.5s"'), (86401.0, '"86401s"'),
])
def test_durations_are_written_in_their_largest_whole_unit(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_values_are_written_as_toml() -> None:
    assert [toml_value(value) for value in (True, False, 0, "a\"b", Path("/x y"), ("unix:/a", "tcp:b:1"),
                                            frozenset({"zed", "batch"}), "caf\u00e9")] == [
        "true", "false", "0", '"a\\"b"', '"/x y"', '["unix:/a", "tcp:b:1"]', '["batch", "zed"]', '"caf\u00e9"']
    with pytest.raises(TypeError, match="no TOML form"):
        toml_value(1.5)  # a float is a duration or a ratio: its kind writes it
