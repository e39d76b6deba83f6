"""Write the man pages apsis(1), apsisd(8), agentd(8) and apsisd.toml(5) into FOLDER, from what the programs
themselves say: the click commands' help (apsis, apsisd), agentd's argparse parser, and apsisd.toml's table of
settings (apsisd/config/settings.py, which also writes etc/apsisd.toml and docs/configuration.md's table). Nothing
here is written a second time: a new command, option or setting is in the pages at the next build. The Debian
build runs it (packaging/debian/rules); docs/*.md, installed beside the pages, say the rest.

    python3 tools/write_man.py FOLDER
"""
from __future__ import annotations

import inspect
import os
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click

from agentd.cli import parser as agentd_parser
from apsisd.cli.main import apsis
from apsisd.config.render import HEADER, described
from apsisd.daemon.main import main as apsisd

ROOT = Path(__file__).resolve().parents[1]
DOCS = "/usr/share/doc/apsis"
SEE_ALSO = {"apsis": "1", "apsisd": "8", "agentd": "8", "apsisd.toml": "5"}


def escape(text: str) -> str:
    """`text` as roff: backslashes and hyphens escaped, `code` in bold, no line starting as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n"))


def paragraphs(help_text: str) -> Iterator[str]:
    """click's help text as roff paragraphs: its \\b paragraphs kept as laid out, the others filled."""
    for block in re.split(r"\n\s*\n", inspect.cleandoc(help_text or "")):
        if block.startswith("\b"):
            yield ".PP\n.nf\n" + escape(block.removeprefix("\b").strip("\n")) + "\n.fi"
        elif block.strip():
            yield ".PP\n" + escape(" ".join(line.strip() for line in block.split("\n")))


def options(command: click.Command, ctx: click.Context) -> Iterator[str]:
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is not None and param.name != "help":
            yield f".TP\n\\fB{escape(record[0])}\\fR\n{escape(record[1])}"


def commands(group: click.Group, ctx: click.Context) -> Iterator[str]:
    """Every subcommand, nested groups' included, as a subsection: its usage, help and options."""
    for name, command in group.commands.items():
        sub = click.Context(command, parent=ctx, info_name=name)
        if isinstance(command, click.Group):
            yield from commands(command, sub)
            continue
        usage = " ".join(command.collect_usage_pieces(sub))
        yield f'.SS "{escape(sub.command_path)} {escape(usage)}"'
        yield from paragraphs(command.help or "")
        yield from options(command, sub)


def header(name: str, section: str, summary: str) -> list[str]:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return [f'.TH "{name.upper()}" "{section}" "" "apsis {version}" "apsis"', ".SH NAME",
            f"{escape(name)} \\- {escape(summary)}"]


def see_also(name: str, docs: str) -> list[str]:
    pages = ",\n".join(f".BR {page} ({section})" for page, section in SEE_ALSO.items() if page != name)
    return [".SH SEE ALSO", pages + ",\n.BR systemd.unit (5)", ".PP",
            escape(f"The documentation in {DOCS}: {docs}.")]


def apsis_page() -> str:
    ctx = click.Context(apsis, info_name="apsis")
    first, _, rest = inspect.cleandoc(apsis.help or "").partition("\n")
    return "\n".join([
        *header("apsis", "1", first.split(": ", 1)[-1].rstrip(".")),
        ".SH SYNOPSIS", f"\\fBapsis\\fR {escape(' '.join(apsis.collect_usage_pieces(ctx)))}",
        ".SH DESCRIPTION", *paragraphs(rest),
        ".SH OPTIONS", *options(apsis, ctx),
        ".SH COMMANDS", *commands(apsis, ctx),
        *see_also("apsis", "cli.md (every command, with examples and exit statuses), jobs.md, schedules.md"),
    ]) + "\n"


def apsisd_page() -> str:
    ctx = click.Context(apsisd, info_name="apsisd")
    keys = {name: (shown, doc) for name, shown, doc in described()}
    files = [f".TP\n{escape(keys[name][0])}\n{escape(keys[name][1])}"
             for name in ("jobs_dir", "state_dir", "[api] listen")]
    return "\n".join([
        *header("apsisd", "8", (apsisd.help or "").strip().rstrip(".").removeprefix("The ")),
        ".SH SYNOPSIS", f"\\fBapsisd\\fR {escape(' '.join(apsisd.collect_usage_pieces(ctx)))}",
        ".SH DESCRIPTION", *paragraphs(apsisd.help or ""),
        ".PP", "It runs under systemd as \\fBapsisd.service\\fR; each run is a transient unit in \\fBapsis.slice\\fR.",
        ".SH OPTIONS", *options(apsisd, ctx),
        ".SH FILES", ".TP\n/etc/apsis/apsisd.toml\nThe configuration, see \\fBapsisd.toml\\fR(5).", *files,
        *see_also("apsisd", "operations.md, configuration.md, security.md, jobs.md"),
    ]) + "\n"


def agentd_page() -> str:
    os.environ["COLUMNS"] = "78"  # argparse's layout: the same on every build
    top, subcommands = agentd_parser()
    blocks = [".nf\n" + escape(p.format_help().rstrip("\n")) + "\n.fi" for p in (top, *subcommands.values())]
    return "\n".join([
        *header("agentd", "8", (top.description or "").rstrip(".")),
        ".SH SYNOPSIS", ".nf\n" + escape(top.format_usage().removeprefix("usage: ").strip()) + "\n.fi",
        ".SH DESCRIPTION", ".PP", escape(top.description or ""),
        ".SH OPTIONS", *(f".PP\n{block}" for block in blocks),
        *see_also("agentd", "hosts.md (remote hosts, and what agentd needs on them), host.md"),
    ]) + "\n"


def toml_page() -> str:
    intro = [line.removeprefix("#").strip() for line in HEADER.splitlines() if not line.startswith("# Written")]
    keys = [f".TP\n\\fB{escape(name)}\\fR (default: {escape(shown)})\n{escape(doc)}"
            for name, shown, doc in described()]
    return "\n".join([
        *header("apsisd.toml", "5", "the configuration of the apsis scheduler daemon"),
        ".SH DESCRIPTION", *paragraphs("\n".join(intro[1:])),
        ".SH KEYS", *keys,
        *see_also("apsisd.toml", "configuration.md, hosts.md (the [hosts.NAME] tables)"),
    ]) + "\n"


PAGES = {"apsis.1": apsis_page, "apsisd.8": apsisd_page, "agentd.8": agentd_page, "apsisd.toml.5": toml_page}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    for name, page in PAGES.items():
        (folder / name).write_text(page())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
