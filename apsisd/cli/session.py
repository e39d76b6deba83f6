"""What every command gets: the client for the daemon the global options name, the zone to show times in, the
output's style; and the one way a command fails.

Only cli/ ends the process: an ApsisError becomes one line `apsis: message`
on stderr and exit status 2 (`fails_cleanly`); problems in job files are
printed one per line (FILE:LINE:) with exit status 1.
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, tzinfo
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from apsisd.cli.address import default_address, parse_url
from apsisd.cli.client import TIMEOUT, Client
from apsisd.cli.defaults import api_sockets, local_zone
from apsisd.cli.render import Style, plural
from apsisd.errors import ApsisError, InvalidFiles
from apsisd.text import escaped

F = TypeVar("F", bound=Callable[..., Any])
FAILED = 2  # the command could not do (all of) what was asked
FOUND = 1  # it ran, and what it looked at has problems (job files, findings, a refused reload, not scheduling)


class Failed(ApsisError):
    """A command cannot do what was asked (unknown job, bad option value)."""


def fails_cleanly(command: F) -> F:
    """Turn an ApsisError into `apsis: message` on stderr and exit status 2, never a traceback."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InvalidFiles as exc:
            invalid_files(exc)
        except ApsisError as exc:
            fail(str(exc))

    return run  # type: ignore[return-value]


def fail(message: str, status: int = FAILED) -> NoReturn:
    warn(message)
    sys.exit(status)


def warn(message: str) -> None:
    """`apsis: message` on stderr, on one line: messages quote apsisd's answers, names and args of anyone's."""
    click.echo(f"apsis: {escaped(message)}", err=True)


def invalid_files(exc: InvalidFiles) -> NoReturn:
    """Each problem on stdout (FILE:LINE: field: message), their count on stderr, exit status 1."""
    for problem in exc.problems:
        click.echo(escaped(str(problem)))
    files = len({problem.file for problem in exc.problems})
    click.echo(f"{plural(len(exc.problems), 'problem')} in {plural(files, 'file')}", err=True)
    sys.exit(FOUND)


class Session:
    """The global options (`apsis --url U --token-file F --ca C --utc COMMAND`), turned into what commands use on
    first use: a command that needs no daemon never looks for one."""

    def __init__(self, *, url: str | None = None, token_file: Path | None = None, ca: Path | None = None,
                 utc: bool = False, timeout: float = TIMEOUT, environ: Mapping[str, str] | None = None) -> None:
        self.url = url or None
        self.timeout = timeout
        self.token_file = token_file
        self.ca = ca
        self.utc = utc
        self.environ = os.environ if environ is None else environ

    @functools.cached_property
    def client(self) -> Client:
        address = parse_url(self.url) if self.url else default_address(api_sockets(self.environ))
        return Client(address, token=self._token(), ca=self.ca, timeout=self.timeout)

    @functools.cached_property
    def zone(self) -> tzinfo:
        return UTC if self.utc else local_zone(self.environ)

    @functools.cached_property
    def style(self) -> Style:
        return Style.of(sys.stdout, self.environ)

    def _token(self) -> str | None:
        """--token-file's first line, else $APSIS_TOKEN."""
        if self.token_file is None:
            return self.environ.get("APSIS_TOKEN") or None
        try:
            text = self.token_file.read_text()
        except OSError as exc:
            raise Failed(f"--token-file: cannot read {self.token_file}: {exc.strerror}") from None
        token = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not token:
            raise Failed(f"--token-file: {self.token_file} is empty; it should hold the token on its first line")
        return token


pass_session = click.make_pass_decorator(Session, ensure=True)


def json_option(help: str = "Print apsisd's answer as JSON.") -> Callable[[F], F]:
    """`--json`, as every command that prints data takes it (its value is `as_json`)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def utc_option(command: F) -> F:
    """`--utc` after the command too (`apsis runs --utc`), as journalctl and systemctl take it anywhere."""

    def set_utc(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(Session).utc = True

    return click.option("--utc", is_flag=True, expose_value=False, callback=set_utc,
                        help="Show times in UTC, not in the local zone.")(command)
