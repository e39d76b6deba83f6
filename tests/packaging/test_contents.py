"""What each package holds and depends on: apsis-agent agentd alone, apsis the rest, each file where Debian puts it."""
from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from tests.packaging.deb import Debs, contents, extract, field

ROOT = Path(__file__).resolve().parents[2]
PY = "/usr/lib/python3/dist-packages"
# pyproject.toml's names as Debian 12 packages them.
DEBIAN_NAMES = {"dbus-fast": "python3-dbus-fast", "pystemd": "python3-pystemd", "PyYAML": "python3-yaml",
                "aiohttp": "python3-aiohttp", "click": "python3-click", "Jinja2": "python3-jinja2",
                "markdown-it-py": "python3-markdown-it",
                "prometheus-client": "python3-prometheus-client"}
UNITS = {"/lib/systemd/system/apsisd.service": "units/apsisd.service",
         "/lib/systemd/system/apsis.slice": "units/apsis.slice",
         "/usr/lib/systemd/user/apsisd.service": "units/user/apsisd.service",
         "/usr/lib/sysusers.d/apsis.conf": "units/apsis.sysusers",
         "/usr/lib/tmpfiles.d/apsis.conf": "units/apsis.tmpfiles"}


def depends(deb: Path) -> dict[str, str]:
    """Depends as {package: version constraint ('' for none)}."""
    relations = {}
    for item in field(deb, "Depends").split(","):
        match = re.fullmatch(r"\s*(\S+)(?:\s*\((.*)\))?\s*", item)
        assert match, item
        relations[match[1]] = match[2] or ""
    return relations


def test_apsis_agent_holds_agentd_and_nothing_of_apsisd(debs: Debs) -> None:
    paths = contents(debs.agent)
    assert paths["/usr/bin/agentd"].startswith("-rwx")
    assert paths[f"{PY}/agentd/systemd/drain-streams"].startswith("-rwx")  # run as a unit's ExecStopPost
    assert f"{PY}/apsis-{debs.version.split('-')[0]}.dist-info/entry_points.txt" in paths
    assert "/usr/share/man/man8/agentd.8.gz" in paths
    assert [path for path in paths if "apsisd" in path or path.startswith(("/etc", "/lib"))] == []


def test_apsis_holds_apsisd_and_nothing_of_agentd(debs: Debs) -> None:
    paths = contents(debs.apsis)
    for command in ("/usr/bin/apsis", "/usr/bin/apsisd"):
        assert paths[command].startswith("-rwx")
    assert f"{PY}/apsisd/api/openapi.yaml" in paths
    assert [path for path in paths if "agentd" in path or ".dist-info" in path] == []


def test_apsis_installs_exactly_the_units_of_the_tree(debs: Debs, tmp_path: Path) -> None:
    root = extract(debs.apsis, tmp_path)
    for installed, source in UNITS.items():
        assert (root / installed.lstrip("/")).read_text() == (ROOT / source).read_text(), installed


def test_apsis_configuration_is_where_apsisd_looks(debs: Debs, tmp_path: Path) -> None:
    paths = contents(debs.apsis)
    assert paths["/etc/apsis/jobs"].startswith("d")
    conffiles = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(debs.apsis)], capture_output=True, check=True)
    listing = subprocess.run(["tar", "-xO", "./conffiles"], input=conffiles.stdout, capture_output=True, check=True)
    assert listing.stdout.decode().split() == ["/etc/apsis/apsisd.toml"]
    root = extract(debs.apsis, tmp_path)
    assert (root / "etc/apsis/apsisd.toml").read_text() == (ROOT / "etc/apsisd.toml").read_text()
    # The packaged example jobs are documentation: none of them would run from /etc/apsis/jobs.
    assert list((root / "etc/apsis/jobs").iterdir()) == []
    assert (root / "usr/share/doc/apsis/examples/jobs/demo/hello.yaml").is_file()


def test_apsis_depends_on_its_agent_of_the_same_build(debs: Debs) -> None:
    assert depends(debs.apsis)["apsis-agent"] == f"= {debs.version}"


def test_dependencies_are_pyprojects_as_debian_packages(debs: Debs) -> None:
    """Every dependency of pyproject.toml (for Python 3.11, Debian 12's) is a Depends of one package, at its bound."""
    wanted = {}
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        if "python_version <" in requirement:
            continue
        name, bound = re.fullmatch(r"([A-Za-z0-9_-]+)>=([0-9.]+)", requirement).groups()  # type: ignore[union-attr]
        wanted[DEBIAN_NAMES[name]] = f">= {bound}"
    agent, apsis = depends(debs.agent), depends(debs.apsis)
    python_deps = {name: bound for name, bound in {**agent, **apsis}.items() if name.startswith("python3-")}
    assert python_deps == wanted
    # agentd imports only dbus-fast of them: apsis-agent alone brings nothing of the scheduler's dependencies.
    assert [name for name in agent if name.startswith("python3-")] == ["python3-dbus-fast"]


def test_man_pages_and_completions_are_where_debian_puts_them(debs: Debs) -> None:
    paths = contents(debs.apsis)
    for path in ("/usr/share/man/man1/apsis.1.gz", "/usr/share/man/man8/apsisd.8.gz",
                 "/usr/share/man/man5/apsisd.toml.5.gz", "/usr/share/bash-completion/completions/apsis",
                 "/usr/share/zsh/vendor-completions/_apsis"):
        assert path in paths


def test_completions_are_clicks_own(debs: Debs, tmp_path: Path) -> None:
    """The scripts complete through the installed apsis (click's protocol), not a list written by hand."""
    root = extract(debs.apsis, tmp_path)
    assert "_APSIS_COMPLETE=bash_complete" in (root / "usr/share/bash-completion/completions/apsis").read_text()
    zsh = (root / "usr/share/zsh/vendor-completions/_apsis").read_text()
    assert zsh.startswith("#compdef apsis") and "_APSIS_COMPLETE=zsh_complete" in zsh


def test_changelog_version_is_pyprojects() -> None:
    """tools/build-deb names the tree and the .debs after pyproject's version: the changelog must agree."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    top = (ROOT / "packaging/debian/changelog").read_text().split("\n", 1)[0]
    assert top.startswith(f"apsis ({version}-1) "), top
