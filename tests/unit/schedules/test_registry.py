"""Schedule types come from the `apsis.schedules` entry points: ours, and any other package's."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apsisd.errors import ApsisError, InvalidFields
from apsisd.schedules import registry
from apsisd.schedules.base import Context

BUILT_IN = {"interval", "daily", "daily-interval", "explicit", "cron", "on-calendar"}

PLUGIN = '''
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar
from apsisd.fields import Fields, integer
from apsisd.schedules.base import Due, common, stamp


@dataclass(frozen=True, slots=True, kw_only=True)
class EveryMinutes:
    """A plug-in schedule: every `minutes` minutes from the epoch."""

    type_name: ClassVar[str] = "every-minutes"
    minutes: int
    enabled: bool = True
    args: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, fields: Fields, context):
        minutes = fields.take("minutes", integer)
        keywords = common(fields)
        fields.done()
        return cls(minutes=minutes, **keywords)

    def times(self, start):
        step = timedelta(minutes=self.minutes)
        epoch = start.replace(year=1970, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        moment = epoch + -(-(start - epoch) // step) * step
        while True:
            yield Due(time=moment, args={"schedule_time": stamp(moment), **self.args})
            moment += step

    def arg_names(self):
        return frozenset({"schedule_time", *self.args})
'''


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[None]:
    """A package installed the way pip would: a module and a dist-info naming its entry point."""
    (tmp_path / "apsis_every_minutes.py").write_text(PLUGIN)
    info = tmp_path / "apsis_every_minutes-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: apsis-every-minutes\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[apsis.schedules]\nevery-minutes = apsis_every_minutes:EveryMinutes\n")
    sys.path.insert(0, str(tmp_path))
    registry.schedule_types.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("apsis_every_minutes", None)
        registry.schedule_types.cache_clear()


def test_the_built_in_types_register_through_the_entry_points() -> None:
    types = registry.schedule_types()
    assert set(types) >= BUILT_IN
    for name in BUILT_IN:
        assert types[name].type_name == name


def test_a_plugin_package_adds_a_type_that_jobs_can_use(plugin: None) -> None:
    assert set(registry.schedule_types()) >= BUILT_IN | {"every-minutes"}
    schedule = registry.parse_schedule({"type": "every-minutes", "minutes": 20, "args": {"x": "1"}}, Context())
    times = registry_times(schedule, datetime(2026, 1, 1, 10, 5, tzinfo=UTC), 3)
    assert times == [datetime(2026, 1, 1, 10, 20, tzinfo=UTC), datetime(2026, 1, 1, 10, 40, tzinfo=UTC),
                     datetime(2026, 1, 1, 11, 0, tzinfo=UTC)]


def registry_times(schedule: object, start: datetime, count: int) -> list[datetime]:
    iterator = schedule.times(start)  # type: ignore[attr-defined]
    return [next(iterator).time for _ in range(count)]


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        ({"type": "fortnightly"}, [(("type",), "unknown schedule type 'fortnightly'; known types: ")]),
        ({"daytime": "09:00"}, [(("type",), "a schedule needs a type; known types: ")]),
        ({"type": [1]}, [(("type",), "must be a string, not a list")]),
        ("daily", [((), "a schedule must be a mapping of keys to values, not a string 'daily'")]),
    ],
)
def test_a_schedule_without_a_known_type_says_which_types_exist(value: object, problems: list) -> None:
    with pytest.raises(InvalidFields) as caught:
        registry.parse_schedule(value, Context())
    assert len(caught.value.problems) == len(problems)
    for (path, message), (want_path, want_start) in zip(caught.value.problems, problems, strict=True):
        assert path == want_path and message.startswith(want_start), (path, message)
        if "known types" in want_start:
            assert all(name in message for name in BUILT_IN), message


def test_a_type_that_cannot_be_loaded_is_named(plugin: None, tmp_path: Path) -> None:
    (tmp_path / "apsis_every_minutes.py").write_text("raise ImportError('no such thing')\n")
    with pytest.raises(ApsisError, match=r"schedule type 'every-minutes' \(apsis_every_minutes:EveryMinutes.*"
                                         r"cannot be loaded: no such thing"):
        registry.schedule_types()
