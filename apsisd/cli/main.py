"""The `apsis` command: the group, its global options, and its commands gathered from the modules by subject.

Every command but check-jobs, next and token talks to apsisd through its
HTTP API only (cli/client.py), never reading the store. Exit statuses (docs/cli.md):
0 done; 1 the command ran and found problems (job files, check findings, a
refused reload, apsisd not scheduling); 2 it could not do what was asked,
with one line `apsis: message` on stderr. `run --wait` exits as its run did.
"""
from __future__ import annotations

from pathlib import Path

import click

from apsisd.cli import complete, jobs, launch, offline, operate, runs, status, watch
from apsisd.cli.session import Session
from apsisd.cli.token import token


@click.group(name="apsis", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", metavar="URL", envvar="APSIS_URL",
              help="apsisd's address: unix:/PATH, http://HOST:PORT or https://HOST:PORT [default: $APSIS_URL, else "
                   "the socket of apsisd's configuration, /run/apsis/api.sock for the system apsisd]")
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Read the bearer token (for http/https) from FILE's first line [default: $APSIS_TOKEN].")
@click.option("--ca", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE", envvar="APSIS_CA",
              help="Check an https apsisd's certificate against the CA certificates in FILE [default: $APSIS_CA, "
                   "else the system's].")
@click.option("--utc", is_flag=True, help="Show times in UTC, not in the local zone.")
@click.version_option(package_name="apsis", prog_name="apsis", message="%(prog)s %(version)s",
                      help="Show the installed apsis's version and exit.")
@click.pass_context
def apsis(ctx: click.Context, url: str | None, token_file: Path | None, ca: Path | None, utc: bool) -> None:
    """apsis: a job scheduler whose runs are systemd units.

    Every command but check-jobs, next and token asks the running apsisd,
    through its API; `apsis COMMAND --help` tells more.
    """
    ctx.obj = Session(url=url, token_file=token_file, ca=ca, utc=utc)


for module in (offline, jobs, runs, launch, operate, watch, status, complete):
    for command in module.commands:
        apsis.add_command(command)
apsis.add_command(token)


def main() -> None:
    """The console script `apsis` (click ends the process with the command's status; a closed pipe, as in
    `apsis output r1 | head`, ends it quietly)."""
    apsis.main(prog_name="apsis")
