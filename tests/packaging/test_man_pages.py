"""The man pages render without a warning and cannot drift from the programs: every command, option and setting
the code has is in them (tools/write_man.py writes them from the code at each build; this checks it left
nothing out)."""
from __future__ import annotations

import gzip
import os
import re
import subprocess
from pathlib import Path

import click
import pytest

from agentd.cli import parser as agentd_parser
from apsisd.cli.main import apsis
from apsisd.config.render import described
from apsisd.daemon.main import main as apsisd
from tests.packaging.deb import Debs, extract

PAGES = {"apsis": "usr/share/man/man1/apsis.1.gz", "apsisd": "usr/share/man/man8/apsisd.8.gz",
         "apsisd.toml": "usr/share/man/man5/apsisd.toml.5.gz", "agentd": "usr/share/man/man8/agentd.8.gz"}


@pytest.fixture(scope="module")
def pages(debs: Debs, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("man")
    extract(debs.apsis, root)
    extract(debs.agent, root)
    return {name: root / path for name, path in PAGES.items()}


def text(page: Path) -> str:
    """The page's roff source with its escapes of hyphens and fonts undone: what a reader sees, unwrapped."""
    source = gzip.decompress(page.read_bytes()).decode()
    return re.sub(r"\\f[BIRP]", "", source.replace("\\-", "-").replace("\\e", "\\"))


def command_paths(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += command_paths(command, f"{prefix} {name}")
        else:
            found.append((f"{prefix} {name}", command))
    return found


def option_names(command: click.Command) -> list[str]:
    return [name for param in command.params if isinstance(param, click.Option) and not param.hidden
            for name in param.opts]


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_without_warnings(pages: dict[str, Path], name: str) -> None:
    """As lintian renders them: man's warnings on, UTF-8, 80 columns."""
    proc = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", str(pages[name])],
                          capture_output=True, text=True, env={**os.environ, "LC_ALL": "C.UTF-8", "MANWIDTH": "80"})
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith(".") is False and len(proc.stdout) > 200


def test_apsis_page_has_every_command_and_option(pages: dict[str, Path]) -> None:
    page = text(pages["apsis"])
    commands = command_paths(apsis, "apsis")
    assert len(commands) > 20
    for path, command in commands:
        section = page.split(f'.SS "{path} ', 1)
        assert len(section) == 2, f"apsis(1) lacks the command `{path}`"
        body = section[1].split("\n.SS ", 1)[0]
        for option in option_names(command):
            assert option in body, f"apsis(1) lacks {path}'s option {option}"
    for option in option_names(apsis):
        assert option in page.split(".SH COMMANDS")[0]


def test_apsisd_page_has_every_option(pages: dict[str, Path]) -> None:
    page = text(pages["apsisd"])
    for option in option_names(apsisd):
        assert option in page, f"apsisd(8) lacks {option}"
    assert "/etc/apsis/apsisd.toml" in page


def test_agentd_page_has_every_option(pages: dict[str, Path]) -> None:
    page = text(pages["agentd"])
    top, subcommands = agentd_parser()
    for name, sub in subcommands.items():
        assert f"agentd {name}" in page
        for parser in (top, sub):
            for action in parser._actions:
                for option in action.option_strings:
                    assert option in page, f"agentd(8) lacks {option}"


def test_toml_page_has_every_setting(pages: dict[str, Path]) -> None:
    page = text(pages["apsisd.toml"])
    rows = described()
    assert len(rows) > 20
    for name, _, doc in rows:
        assert f".TP\n{name} (default: " in page, f"apsisd.toml(5) lacks {name}"
        assert " ".join(doc.replace("`", "").split()) in " ".join(page.split()), f"apsisd.toml(5): {name}'s meaning"
