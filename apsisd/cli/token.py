"""`apsis token new NAME`: a bearer token for the API's TCP addresses, and the line that lets it in.

The token is printed once and kept nowhere: the tokens file holds only its
hash (tokens_file.py), and the operator adds the line themselves, so this
command needs no right to write anything. The line comes last, alone, so
`apsis token new ci | tail -n 1 >> FILE` appends it. A token reads unless
another right is named: a forgotten option must not make a token that
operates (or is root).
"""
from __future__ import annotations

from pathlib import Path

import click

from apsisd.cli.defaults import configuration
from apsisd.errors import ApsisError
from apsisd.rights import Right
from apsisd.tokens_file import NAME, NAME_HELP, RIGHTS, new_token, read_tokens, token_line


@click.group("token")
def token() -> None:
    """Bearer tokens for the API's TCP addresses."""


def _name(context: click.Context, parameter: click.Parameter, value: str) -> str:
    if not NAME.fullmatch(value):
        raise click.BadParameter(f"{value!r} cannot name a token: use {NAME_HELP}")
    return value


@token.command("new")
@click.argument("name", callback=_name)
@click.option("--right", "word", type=click.Choice(list(RIGHTS)), default=Right.READ.word, show_default=True,
              help="What the token may do: read (GET), operate (the runs of loaded jobs; reload), or admin (also ad "
                   "hoc runs, as any user: root's power).")
@click.option("--read-only", is_flag=True, hidden=True, help="Deprecated: --right read, now the default.")
def new(name: str, word: str, read_only: bool) -> None:
    """Make a token named NAME (run logs say "token NAME"): print it once, and its line for the tokens file."""
    right = RIGHTS[word]
    if read_only and right is not Right.READ:
        raise click.UsageError(f"--read-only (deprecated: a token reads by default) contradicts --right {word}; "
                               "give only --right")
    file, where = _tokens_file()
    if file is not None:
        _check_unused(name, file)
    secret = new_token()
    click.echo(f"Token {name} ({word}), shown only now: apsis keeps only its hash.\n\n    {secret}\n\n"
               "Give it to the client (apsis reads $APSIS_TOKEN or --token-file FILE; any other client sends "
               f"Authorization: Bearer TOKEN).\n\n{where}")
    click.echo(token_line(name, right, secret))


def _tokens_file() -> tuple[Path | None, str]:
    """The configured tokens file, and where to add the line, in words."""
    try:
        config = configuration()
    except ApsisError as exc:
        return None, (f"Add this line to the tokens file that [api] tokens names in apsisd's configuration (which "
                      f"cannot be read now: {exc}):")
    if config.api_tokens is None:
        return None, (f"No tokens file is configured: set [api] tokens in {config.file or 'apsisd.toml'} (for "
                      "example tokens = \"api-tokens\"), and add this line to that file:")
    return config.api_tokens, (f"Add this line to {config.api_tokens} ([api] tokens); apsisd reads it again by "
                               "itself, no restart:")


def _check_unused(name: str, file: Path) -> None:
    """A name already in the tokens file (if it can be read) is refused: apsisd would refuse the file."""
    try:
        tokens = read_tokens(file)
    except ApsisError:
        return  # apsisd reports what is wrong with it
    for held in tokens.values():
        if held.name == name:
            raise click.BadParameter(f"{file}:{held.line} has a token named {name} already; revoke it by deleting "
                                     "that line, or choose another name", param_hint="NAME")
