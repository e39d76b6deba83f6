"""One setting of apsisd.toml as one record (the idea of mkosi's ConfigSetting): where it is written, what kind of
value it holds, its default and the words that explain it. From a table of these come the reading of the file,
the defaults, the commented etc/apsisd.toml and the table of docs/configuration.md, so a setting is written once.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apsisd.config.kinds import Kind
from apsisd.config.owner import Owner


@dataclass(frozen=True, slots=True)
class Derived:
    """A default that depends on whose apsisd it is, or on a setting before it in the table (by field):
    `compute(owner, settings so far)`. `doc` says what it is, in words, for the docs."""

    compute: Callable[[Owner, Mapping[str, Any]], Any]
    doc: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting:
    """`key` of the `[section]` table (None: at the top of the file), a value of `kind`.

    `default`: its value when the file does not set it (a Derived when that depends on more; None: not set, which
    `unset` says the meaning of). `doc`: what it does and why one would change it, one paragraph, the sample
    file's comment and the docs' words alike. `example`: a value to show as TOML, besides the default or instead
    of none. `field`: the Config field it fills, `section_key` unless given; `field.attribute` for one attribute
    of an object that several settings make together (`schedule.horizon`).
    """

    section: str | None
    key: str
    kind: Kind
    default: Any
    doc: str
    unset: str = ""
    example: str = ""
    field: str = ""

    @property
    def dest(self) -> str:
        """The Config field (or `field.attribute`) this setting fills."""
        return self.field or (f"{self.section}_{self.key}" if self.section else self.key)

    @property
    def name(self) -> str:
        """As the docs name it: `jobs_dir`, `[api] listen`."""
        return f"[{self.section}] {self.key}" if self.section else self.key


def settle(settings: Sequence[Setting], given: Mapping[str, Any], owner: Owner) -> dict[str, Any]:
    """Every setting's value by dest: as `given` (by dest), else its default, in the table's order so that a
    Derived default sees the settings before it."""
    values: dict[str, Any] = {}
    for setting in settings:
        if setting.dest in given:
            values[setting.dest] = given[setting.dest]
        elif isinstance(setting.default, Derived):
            values[setting.dest] = setting.default.compute(owner, values)
        else:
            values[setting.dest] = setting.default
    return values
