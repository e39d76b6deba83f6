"""Linters as tests, and the import layers of STYLE.md enforced by walking the imports."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (ROOT / "apsisd", ROOT / "agentd")

# module prefix -> the apsisd modules it may import (besides itself). The most
# specific prefix wins. agentd imports nothing of apsisd, and anyone may import
# agentd. Layer 0 imports nothing of ours (but itself); the pure domain
# (calendars, schedules, jobs, runs) layer 0 and the rooms below it.
LAYER0 = ("apsisd.errors", "apsisd.fields", "apsisd.quantities", "apsisd.clock", "apsisd.plugins",
          "apsisd.yaml_source", "apsisd.text")
DOMAIN = (*LAYER0, "apsisd.calendars", "apsisd.schedules", "apsisd.jobs", "apsisd.runs",
          "apsisd.conditions", "apsisd.actions")
ALLOWED: dict[str, tuple[str, ...]] = {
    "agentd": (),
    "apsisd.errors": (),
    "apsisd.clock": (),
    "apsisd.text": (),
    "apsisd.plugins": ("apsisd.errors", "apsisd.fields"),
    "apsisd.fields": ("apsisd.errors",),
    "apsisd.quantities": ("apsisd.errors", "apsisd.fields"),
    "apsisd.yaml_source": ("apsisd.errors",),
    "apsisd.calendars": (*LAYER0, "apsisd.calendars"),
    "apsisd.schedules": (*LAYER0, "apsisd.calendars", "apsisd.schedules"),
    "apsisd.jobs": DOMAIN,
    "apsisd.runs": (*LAYER0, "apsisd.runs"),
    "apsisd.conditions": DOMAIN,
    "apsisd.actions": DOMAIN,
    "apsisd.store": (*DOMAIN, "apsisd.store"),
    # The scheduler knows the store and the hosts by their protocols only; daemon/ names the concrete classes.
    "apsisd.scheduler": (*DOMAIN, "apsisd.store.base", "apsisd.scheduler"),
    # apsisd.toml's settings, read alike by the daemon and the CLI: below both, and below the API that uses some.
    "apsisd.config": (*DOMAIN, "apsisd.config"),
    "apsisd.api": (*DOMAIN, "apsisd.scheduler", "apsisd.store.base", "apsisd.config", "apsisd.api"),
    "apsisd.daemon": ("apsisd",),
    # The commands that work without a daemon (check-jobs, next) read the domain directly.
    # `apsis token new` writes the tokens file's lines as apsisd reads them.
    "apsisd.cli": (*DOMAIN, "apsisd.cli", "apsisd.config", "apsisd.api.tokens", "apsisd.api.access"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "apsisd" or name.startswith("apsisd.")}


def _rule(module: str) -> tuple[str, ...] | None:
    matches = [prefix for prefix in ALLOWED if module == prefix or module.startswith(prefix + ".")]
    return ALLOWED[max(matches, key=len)] if matches else None


@pytest.mark.parametrize("path", sorted(p for package in PACKAGES for p in package.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path: Path) -> None:
    module = _module_name(path)
    if module in ("apsisd", "agentd"):
        return
    allowed = _rule(module)
    assert allowed is not None, f"{module} is in no layer: add it to ALLOWED in tests/test_lint.py"
    bad = [name for name in _imports(path)
           if not any(name == ok or name.startswith(ok + ".") for ok in allowed)]
    assert not bad, f"{module} may not import {bad} (see STYLE.md, layers)"


def test_ruff() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "apsisd", "agentd", "tests", "tools", "bench"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
