"""lintian finds no error and no warning in the packages, and every tag it is told to accept says why."""
from __future__ import annotations

import re
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
