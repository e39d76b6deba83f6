"""packaging/conda/recipe.yaml in step with pyproject.toml: version, Python, dependencies with their lower bounds,
build backend and entry points. No conda channel is reachable here, so the recipe is never built by the tests
(packaging/conda/README.md); rattler-build's own parser reads and renders it (which needs no channel), so a
field it does not know fails here too, and this is what keeps it from going stale in the meantime.
"""
from __future__ import annotations

import functools
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from rattler_build import PlatformConfig, RenderConfig, Stage0Recipe, VariantConfig

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "packaging" / "conda" / "recipe.yaml"
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
# conda-forge's name where it is not PyPI's name lower-cased (canonicalize_name).
CONDA_NAMES = {"prometheus-client": "prometheus_client"}
RENDERERS_LEFTOVERS = Path("/tmp/rattler_build_*")


@pytest.fixture(scope="module", autouse=True)
def _renderers_leftovers_removed() -> Iterator[None]:
    """rattler-build's renderer leaves an empty folder `/tmp/rattler_build_*` at each render, and takes no
    TMPDIR (it names /tmp itself): the ones this module's renders leave are removed, so /tmp is as it was."""
    before = set(RENDERERS_LEFTOVERS.parent.glob(RENDERERS_LEFTOVERS.name))
    yield
    for folder in set(RENDERERS_LEFTOVERS.parent.glob(RENDERERS_LEFTOVERS.name)) - before:
        shutil.rmtree(folder, ignore_errors=True)


@functools.cache
def recipe() -> dict[str, Any]:
    """The recipe as rattler-build renders it for linux-64: context variables put in (scripts keep theirs,
    which rattler-build fills in when it runs them), defaults filled, unknown fields refused."""
    platform = PlatformConfig(target_platform="linux-64", build_platform="linux-64", host_platform="linux-64",
                              experimental=False)
    (variant,) = Stage0Recipe.from_yaml(RECIPE.read_text()).render(VariantConfig({}), RenderConfig(platform=platform))
    rendered: dict[str, Any] = variant.recipe.to_dict()
    return rendered


def python_min() -> str:
    """requires-python's lower bound (">=3.11" gives "3.11"): the oldest Python apsis runs on."""
    (spec,) = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert spec.operator == ">=", "requires-python is expected to be a lower bound alone"
    return spec.version


def conda_spec(requirement: str) -> tuple[str, str]:
    """A PyPI requirement as conda-forge's name and a match spec's version part ("dbus-fast", ">=1.84")."""
    req = Requirement(requirement)
    name = canonicalize_name(req.name)
    return CONDA_NAMES.get(name, name), ",".join(sorted(str(spec) for spec in req.specifier))


def recipe_specs(entries: list[str]) -> dict[str, str]:
    """A requirements list as {name: version part}, leaving out python and virtual packages (`__linux`)."""
    specs = {}
    for entry in entries:
        name, _, version = entry.partition(" ")
        if name != "python" and not name.startswith("__"):
            specs[name] = version.replace(" ", "")
    return specs


def test_version_is_pyprojects() -> None:
    assert recipe()["package"]["version"] == PYPROJECT["project"]["version"]
    assert recipe()["package"]["name"] == PYPROJECT["project"]["name"]


def test_python_bounds_are_requires_python() -> None:
    rendered = recipe()
    assert rendered["context"]["python_min"] == python_min()
    assert f"python >={python_min()}" in rendered["requirements"]["run"]
    assert f"python {python_min()}.*" in rendered["requirements"]["host"]


def test_run_dependencies_are_pyprojects_with_their_lower_bounds() -> None:
    """Every dependency pyproject has on the recipe's oldest Python, under conda-forge's name and with the same
    bounds; and none that pyproject lacks."""
    environment = {"python_version": python_min(), "python_full_version": f"{python_min()}.0",
                   "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
    wanted = dict(conda_spec(dep) for dep in PYPROJECT["project"]["dependencies"]
                  if (marker := Requirement(dep).marker) is None or marker.evaluate(environment))
    assert recipe_specs(recipe()["requirements"]["run"]) == wanted, (
        "recipe.yaml's run requirements are not pyproject's dependencies (conda-forge's names: CONDA_NAMES)")


def test_host_has_the_build_backend() -> None:
    wanted = dict(conda_spec(dep) for dep in PYPROJECT["build-system"]["requires"])
    host = recipe_specs(recipe()["requirements"]["host"])
    assert {name: host.get(name) for name in wanted} == wanted
    assert "pip" in host


def test_entry_points_are_pyprojects_scripts() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    entry_points = recipe()["build"]["python"]["entry_points"]
    assert sorted(entry_points) == sorted(f"{name} = {target}" for name, target in scripts.items())


def test_tests_run_every_command_and_the_version() -> None:
    tests = recipe()["tests"]
    commands = [line for test in tests for line in test.get("script", [])]
    for name in PYPROJECT["project"]["scripts"]:
        assert any(line.startswith(f"{name} ") for line in commands), f"the recipe's tests never run {name}"
    assert 'test "$(apsis --version)" = "apsis ${{ version }}"' in commands
    imports = [module for test in tests for module in test.get("python", {}).get("imports", [])]
    assert {"apsisd", "agentd"} <= set(imports)


def test_recipe_builds_from_the_sdist_python_build_writes() -> None:
    """The source is the sdist of this version, where `python -m build --sdist` puts it (dist/ at the top)."""
    (source,) = (RECIPE.parent / entry["path"] for entry in recipe()["source"])
    assert source.resolve() == ROOT / "dist" / f"apsis-{PYPROJECT['project']['version']}.tar.gz"
    assert recipe()["build"]["noarch"] == "python"
