"""lintian finds no error and no warning in the packages, and every tag it is told to accept says why."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.packaging.deb import Debs

DEBIAN = Path(__file__).resolve().parents[2] / "packaging" / "debian"


def test_lintian_reports_no_error_or_warning(debs: Debs) -> None:
    complaints = [line for line in debs.output.splitlines() if re.match(r"[EW]: ", line)]
    assert complaints == [], debs.output
    assert debs.status == 0, debs.output


def test_every_lintian_override_says_why() -> None:
    overrides = sorted(DEBIAN.glob("*.lintian-overrides"))
    assert overrides, "no overrides: drop this test's reason to exist, not the test"
    for path in overrides:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.strip() and not line.startswith("#"):
                assert number > 0 and lines[number - 1].startswith("#"), \
                    f"{path.name}:{number + 1}: the override {line!r} has no comment above it saying why"


def test_a_newer_revision_is_clean_and_leaves_the_checkout_alone(build_debs: Callable[[int | None], Debs]) -> None:
    """The upgrade tests' newer build: its own changelog entry, dated after the one below, in the copy only."""
    changelog = (DEBIAN / "changelog").read_text()
    newer = build_debs(2)
    assert newer.version.endswith("-2") and newer.apsis.is_file()
    assert [line for line in newer.output.splitlines() if re.match(r"[EW]: ", line)] == [], newer.output
    assert newer.status == 0, newer.output
    assert (DEBIAN / "changelog").read_text() == changelog
