"""Each package works with only what it ships: apsis-agent alone (a remote host has nothing else of apsis), and
the two together find the distribution's metadata (version, plug-in entry points) where the agent put it.

The packages are unpacked in a temporary folder, not installed; Debian's own python3 runs them, with the
python3-* packages tools/setup installed, and never from the checkout (its folder is not on the path).
"""
from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from tests.packaging.deb import Debs, extract

ROOT = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"


def run(root: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONPATH": str(root / "usr/lib/python3/dist-packages"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=60)


def test_apsis_agent_alone_runs_agentd(debs: Debs, tmp_path: Path) -> None:
    root = extract(debs.agent, tmp_path)
    agentd = root / "usr/bin/agentd"
    assert agentd.read_text().startswith(f"#!{PYTHON}\n")
    proc = run(root, PYTHON, str(agentd), "--version")
    assert (proc.returncode, proc.stdout.strip()) == (0, f"agentd {debs.version.split('-')[0]}"), proc.stderr
    proc = run(root, PYTHON, "-c", "import apsisd")
    assert "No module named 'apsisd'" in proc.stderr


def test_both_find_the_metadata_and_every_plugin(debs: Debs, tmp_path: Path) -> None:
    root = extract(debs.agent, tmp_path)
    extract(debs.apsis, root)
    for command in ("apsis", "apsisd"):
        proc = run(root, PYTHON, str(root / "usr/bin" / command), "--help")
        assert proc.returncode == 0 and "Usage:" in proc.stdout, proc.stderr
    proc = run(root, PYTHON, str(root / "usr/bin/apsis"), "--version")
    assert (proc.returncode, proc.stdout.strip()) == (0, f"apsis {debs.version.split('-')[0]}"), proc.stderr
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for group, points in declared.items():
        proc = run(root, PYTHON, "-c", "import sys; from importlib.metadata import entry_points\n"
                   f"for point in entry_points(group={group!r}): point.load(); print(point.name, point.dist.version)")
        assert proc.returncode == 0, proc.stderr
        version = debs.version.split("-")[0]
        assert sorted(proc.stdout.split("\n")[:-1]) == sorted(f"{name} {version}" for name in points)
