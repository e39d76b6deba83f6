"""The sdist and the wheel, built as a user builds them (`python -m build`), hold everything a run needs, and
the wheel installed alone into a fresh venv gives working `apsis`, `apsisd` and `agentd` commands.

The build is offline (`--no-isolation`: the backend is the test extras' setuptools and wheel) and starts
from the git-tracked files alone, copied under --basetemp, as tools/build-deb starts: a file that is only in
this worktree cannot make the test pass, and the checkout is not written to. The fresh venv reaches the
dependencies without a download through a .pth file naming this interpreter's site-packages; those come
after the venv's own, so the wheel's apsisd is the one imported, which the test checks.
"""
from __future__ import annotations

import os
import shutil
import site
import stat
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("apsisd", "agentd")
SDIST_EXTRAS = ("README.md", "pyproject.toml", "MANIFEST.in", "docs/", "units/", "etc/")
VERSION: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    work: Path
    sdist: Path
    wheel: Path
    env: dict[str, str]


def tracked(*prefixes: str) -> dict[str, int]:
    """git's tracked files under `prefixes` (all of them with none), each with its mode (0o100755 or 0o100644)."""
    out = subprocess.run(["git", "ls-files", "-s", "-z", "--", *prefixes], cwd=ROOT, check=True,
                         capture_output=True).stdout.decode()
    files = {}
    for entry in filter(None, out.split("\0")):
        meta, path = entry.split("\t", 1)
        files[path] = int(meta.split()[0], 8)
    return files


def run(argv: list[str | Path], *, cwd: Path, env: dict[str, str]) -> str:
    """A command's stdout; its whole output in the failure if it fails."""
    proc = subprocess.run([str(arg) for arg in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("dist")
    source = work / "source"
    for path in tracked():
        if (ROOT / path).is_file():  # a tracked file deleted in the worktree is not there to copy
            (source / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, source / path)
    # build unpacks the sdist into a temporary folder to build the wheel from it: under --basetemp too.
    env = {**os.environ, "TMPDIR": str(work), "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", work / "dist", source], cwd=work, env=env)
    (sdist,) = (work / "dist").glob("*.tar.gz")
    (wheel,) = (work / "dist").glob("*.whl")
    return Built(work=work, sdist=sdist, wheel=wheel, env=env)


def test_names_carry_the_version(built: Built) -> None:
    assert built.sdist.name == f"apsis-{VERSION}.tar.gz"
    assert built.wheel.name == f"apsis-{VERSION}-py3-none-any.whl"


def test_wheel_holds_every_tracked_file_of_the_packages_and_nothing_else(built: Built) -> None:
    """Data files (the OpenAPI document, drain-streams, templates and static files) as much as modules: a file
    added under apsisd/ or agentd/ must reach the wheel with no list to update."""
    with zipfile.ZipFile(built.wheel) as wheel:
        infos = {info.filename: info for info in wheel.infolist() if info.filename.startswith(PACKAGES)}
    want = tracked(*PACKAGES)
    assert sorted(set(want) - set(infos)) == [], "tracked but not in the wheel"
    assert sorted(set(infos) - set(want)) == [], "in the wheel but not tracked"
    for path, mode in want.items():  # drain-streams is run as `perl FILE`, but its mode is kept all the same
        assert bool((infos[path].external_attr >> 16) & stat.S_IXUSR) == bool(mode & stat.S_IXUSR), path


def test_sdist_holds_what_distributions_build_from(built: Built) -> None:
    """The Debian and conda builds start from the sdist: docs (the man pages are made from them), units, the
    default configuration, as well as the packages."""
    top = f"apsis-{VERSION}/"
    with tarfile.open(built.sdist) as sdist:
        names = {member.name.removeprefix(top) for member in sdist.getmembers() if member.isfile()}
    want = set(tracked(*PACKAGES, *SDIST_EXTRAS))
    assert sorted(want - names) == [], "tracked but not in the sdist"
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in names if name.startswith("tests/")]


@pytest.fixture(scope="module")
def venv(built: Built) -> Path:
    """A fresh venv holding the wheel alone (installed by this interpreter's pip, --no-deps, from the file), its
    dependencies reached through a .pth file naming this interpreter's site-packages."""
    venv = built.work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=built.work, env=built.env)
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", built.wheel],
        cwd=built.work, env=built.env)
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  cwd=built.work, env=built.env).strip()
    (Path(purelib) / "apsis-test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def test_the_imported_packages_and_their_data_are_the_wheels(built: Built, venv: Path) -> None:
    probe = (
        "import apsisd, agentd, importlib.metadata\n"
        "from apsisd.api.routes.openapi import document\n"
        "from agentd.systemd.streams import drain_command\n"
        "print(apsisd.__file__); print(agentd.__file__)\n"
        "print(importlib.metadata.distribution('apsis').locate_file(''))\n"
        "print(document()['info']['version'])\n"
        "print(drain_command('u.service', 'u', 1.0)[1])\n"
    )
    apsisd_file, agentd_file, dist_root, openapi_version, drain = run(
        [venv / "bin" / "python", "-c", probe], cwd=built.work, env=built.env).splitlines()
    for path in (apsisd_file, agentd_file, dist_root, drain):
        assert Path(path).is_relative_to(venv), f"{path} is not the fresh venv's"
    assert openapi_version
    assert os.access(drain, os.X_OK)
    if Path("/usr/bin/perl").exists():  # what a run's unit runs at its end: it must at least compile
        run(["/usr/bin/perl", "-c", drain], cwd=built.work, env=built.env)


def test_commands_run_from_the_fresh_venv(built: Built, venv: Path) -> None:
    bin_ = venv / "bin"
    assert run([bin_ / "apsis", "--version"], cwd=built.work, env=built.env) == f"apsis {VERSION}\n"
    assert run([bin_ / "agentd", "--version"], cwd=built.work, env=built.env) == f"agentd {VERSION}\n"
    apsisd_help = run([bin_ / "apsisd", "--help"], cwd=built.work, env=built.env)
    assert apsisd_help.startswith("Usage: apsisd [OPTIONS]") and "--config PATH" in apsisd_help
    agentd_help = run([bin_ / "agentd", "--help"], cwd=built.work, env=built.env)
    assert agentd_help.startswith("usage: agentd") and "serve" in agentd_help
