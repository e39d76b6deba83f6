"""The suites that run against a real systemd refuse to run without one, rather than fail or skip test by test."""
from __future__ import annotations

from pathlib import Path

import pytest


def refuse_without_systemd(suite: str) -> None:
    """Stop the whole run (from a conftest's pytest_configure, or its collection hook) when no systemd runs here."""
    if not Path("/run/systemd/system").is_dir():
        raise pytest.UsageError(
            f"{suite} needs a running systemd; run it through tools/test, which boots a sandbox for it "
            f"(tools/sandbox.py run -- pytest {suite})"
        )
