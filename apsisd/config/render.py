"""The settings table (settings.py) as text: the commented etc/apsisd.toml, every key at root's default, and the
table of keys in docs/configuration.md, between its markers. tools/write_settings.py writes both; a test checks
that the files in the tree are what these give.
"""
from __future__ import annotations

import textwrap

from apsisd.config.hosts import GROUP, GROUP_SETTINGS, HOST, HOST_SETTINGS
from apsisd.config.owner import Owner
from apsisd.config.setting import Derived, Setting, settle
from apsisd.config.settings import SETTINGS

WIDTH = 78  # of a line of the sample file
BEGIN = "<!-- settings: begin (written by tools/write_settings.py from apsisd/config/settings.py) -->"
END = "<!-- settings: end -->"
ROOT = Owner(privileged=True, env={})
HEADER = """\
# apsisd's configuration.
#
# apsisd reads /etc/apsis/apsisd.toml when run as root, and
# $XDG_CONFIG_HOME/apsis/apsisd.toml (~/.config/apsis/apsisd.toml) when run by
# anyone else; `apsisd --config FILE` names another file. Without a file, every
# key has the default shown here, commented out (as root; a user's own apsisd
# keeps its folders under ~/.config/apsis and ~/.local/state/apsis).
#
# A key apsisd does not know, or a wrong value, is an error reported with this
# file's name and the line; apsisd then does not start. Relative paths are
# taken from the folder this file is in. apsisd reads this file when it starts:
# restart it to apply a change (SIGHUP reloads the jobs, not this file).
#
# Written from apsisd/config/settings.py by tools/write_settings.py.
"""
# The tables of remote hosts and groups have no defaults to show: their keys are shown under a commented header.
HOSTS_INTRO = """\
# Remote hosts, each a [hosts.NAME] table (docs/hosts.md): runs of a job whose
# `host:` is NAME run there, through agentd over SSH. `local`, apsisd's own
# host, is always there and needs no table. Uncomment the header to add one.
"""
GROUPS_INTRO = """\
# Groups of hosts, each a [host_groups.NAME] table: a job whose `host:` is the
# group runs each run on one of its hosts.
"""


def sample_file() -> str:
    """etc/apsisd.toml: each key with its meaning as a comment, then itself commented out at root's default (or,
    without a default, an example)."""
    defaults = settle(SETTINGS, {}, ROOT)
    blocks = [HEADER]
    section = None
    for setting in SETTINGS:
        lines = []
        if setting.section != section:
            section = setting.section
            lines.append(f"[{section}]")
        lines.extend(_sample_lines(setting, defaults[setting.dest]))
        blocks.append("\n".join(lines) + "\n")
    for template, settings, intro in ((HOST, HOST_SETTINGS, HOSTS_INTRO), (GROUP, GROUP_SETTINGS, GROUPS_INTRO)):
        blocks.append(intro)
        header = [f"# [{template}]"]
        for setting in settings:
            blocks.append("\n".join((*header, *_sample_lines(setting, setting.default))) + "\n")
            header = []
    return "\n".join(blocks)


def _sample_lines(setting: Setting, default: object) -> list[str]:
    words = setting.doc
    if isinstance(setting.default, Derived):
        words += f" Default: {setting.default.doc}."
    if default is None:
        words += f" Not set: {setting.unset}."
    if setting.example:
        words += " For example:"
    lines = textwrap.wrap(words, WIDTH - 2, break_long_words=False, break_on_hyphens=False)
    lines = [f"# {line}" for line in lines]
    if setting.example:
        lines.append(f"#   {setting.key} = {setting.example}")
    if default is not None:
        lines.append(f"# {setting.key} = {setting.kind.write(default)}")
    return lines


def described() -> list[tuple[str, str, str]]:
    """Every key as the docs show it: (its name, its default in words or as `TOML`, its meaning), in the table's
    order. The docs' table and the man page apsisd.toml(5) (tools/write_man.py) are both made of these."""
    defaults = settle(SETTINGS, {}, ROOT)
    rows = []
    for setting in (*SETTINGS, *HOST_SETTINGS, *GROUP_SETTINGS):
        default = defaults.get(setting.dest, setting.default)
        if isinstance(setting.default, Derived):
            shown = setting.default.doc
        elif default is None:
            shown = f"not set: {setting.unset}"
        else:
            shown = f"`{setting.kind.write(default)}`"
        rows.append((setting.name, shown, setting.doc))
    return rows


def settings_table() -> str:
    """The Markdown table of every key, its default and its meaning, between the markers."""
    rows = [BEGIN, "| key | default | meaning |", "| --- | --- | --- |"]
    for name, shown, doc in described():
        cells = (f"`{name}`", shown, doc)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    rows.append(END)
    return "\n".join(rows) + "\n"


def with_settings_table(markdown: str) -> str:
    """`markdown` with what lies between its markers (the markers included) replaced by settings_table()."""
    start = markdown.find(BEGIN)
    end = markdown.find(END, max(start, 0))
    if start < 0 or end < 0:
        raise ValueError(f"the markers of the settings table are missing: {BEGIN} ... {END}")
    return markdown[:start] + settings_table() + markdown[end + len(END) + 1:]
