"""Linters as tests, and the import layers of STYLE.md enforced by walking the imports."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "apsisd"

# module prefix -> the apsisd modules it may import (besides itself). The most
# specific prefix wins. Layer 0 imports nothing of ours (but itself); the pure
# domain (calendars, schedules, jobs, run specs) layer 0 and the rooms below
# it; protocols (hosts.base) only layer 0; the systemd adapter the protocols.
LAYER0 = ("apsisd.errors", "apsisd.types", "apsisd.fields", "apsisd.quantities", "apsisd.clock", "apsisd.plugins",
          "apsisd.yaml_source", "apsisd.text")
DOMAIN = (*LAYER0, "apsisd.calendars", "apsisd.schedules", "apsisd.jobs", "apsisd.hosts.spec", "apsisd.runs",
          "apsisd.conditions", "apsisd.actions")
ALLOWED: dict[str, tuple[str, ...]] = {
    "apsisd.errors": (),
    "apsisd.types": (),
    "apsisd.clock": (),
    "apsisd.text": (),
    "apsisd.plugins": ("apsisd.errors", "apsisd.fields"),
    "apsisd.fields": ("apsisd.errors",),
    "apsisd.quantities": ("apsisd.errors", "apsisd.fields"),
    "apsisd.yaml_source": ("apsisd.errors",),
    "apsisd.calendars": (*LAYER0, "apsisd.calendars"),
    "apsisd.schedules": (*LAYER0, "apsisd.calendars", "apsisd.schedules"),
    "apsisd.jobs": DOMAIN,
    "apsisd.hosts.spec": ("apsisd.errors", "apsisd.types"),
    "apsisd.hosts.base": ("apsisd.errors", "apsisd.types", "apsisd.hosts.spec"),
    "apsisd.systemd": ("apsisd.errors", "apsisd.types", "apsisd.hosts.spec", "apsisd.hosts.base",
                       "apsisd.systemd"),
    "apsisd.hosts": ("apsisd.errors", "apsisd.types", "apsisd.hosts", "apsisd.systemd"),
    "apsisd.runs": (*LAYER0, "apsisd.runs", "apsisd.hosts.spec"),
    "apsisd.conditions": DOMAIN,
    "apsisd.actions": DOMAIN,
    "apsisd.store": (*DOMAIN, "apsisd.store"),
    # The scheduler knows the store and the hosts by their protocols only; daemon/ names the concrete classes.
    "apsisd.scheduler": (*DOMAIN, "apsisd.store.base", "apsisd.hosts.base", "apsisd.scheduler"),
    "apsisd.api": (*DOMAIN, "apsisd.scheduler", "apsisd.store.base", "apsisd.api"),
    "apsisd.daemon": ("apsisd",),
    # The commands that work without a daemon (check-jobs, next) read the domain directly.
    # `apsis token new` writes the tokens file's lines as apsisd reads them.
    "apsisd.cli": (*DOMAIN, "apsisd.cli", "apsisd.daemon.config", "apsisd.daemon.toml_lines", "apsisd.api.tokens",
                   "apsisd.api.access"),
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


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path: Path) -> None:
    module = _module_name(path)
    if module == "apsisd":
        return
    allowed = _rule(module)
    assert allowed is not None, f"{module} is in no layer: add it to ALLOWED in tests/test_lint.py"
    bad = [name for name in _imports(path)
           if not any(name == ok or name.startswith(ok + ".") for ok in allowed)]
    assert not bad, f"{module} may not import {bad} (see STYLE.md, layers)"


def test_ruff() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "apsisd", "tests", "tools", "bench"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
