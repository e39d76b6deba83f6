"""The Debian packages, built once per revision for the whole session: `debs` is the first revision's (the
changelog's own), `build_debs(N)` a newer build `VERSION-N` (the upgrade tests install one over the other).

Built by tools/build-deb into the session's temporary folder (under the checkout with tools/test's
--basetemp), never installed here: the install tests do that in a sandbox host of their own.
"""
from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.packaging.deb import Debs

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
BUILD_TOOLS = ("dpkg-buildpackage", "dh", "lintian")
BUILD_TIMEOUT = 600  # seconds; a build takes about 15 s


@pytest.fixture(scope="session")
def build_debs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int | None], Debs]:
    """`build_debs(None)`: the changelog's version; `build_debs(N)`: VERSION-N. Each built once, then cached."""
    missing = [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"cannot build the Debian packages without {', '.join(missing)} (tools/setup installs them)")
    built: dict[int | None, Debs] = {}

    def build(revision: int | None = None) -> Debs:
        if revision not in built:
            out = tmp_path_factory.mktemp(f"deb-{revision or 'first'}")
            command = [str(ROOT / "tools" / "build-deb"), "--out", str(out)]
            if revision is not None:
                command += ["--revision", str(revision)]
            proc = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
            version = f"{VERSION}-{revision or 1}"
            apsis, agent = out / f"apsis_{version}_all.deb", out / f"apsis-agent_{version}_all.deb"
            if not (apsis.is_file() and agent.is_file()):
                pytest.fail(f"tools/build-deb made no packages (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
            built[revision] = Debs(apsis=apsis, agent=agent, version=version, output=proc.stdout + proc.stderr,
                                   status=proc.returncode)
        return built[revision]

    return build


@pytest.fixture(scope="session")
def debs(build_debs: Callable[[int | None], Debs]) -> Debs:
    return build_debs(None)
