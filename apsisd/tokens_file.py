"""The API's tokens file: its lines, read strictly, and a new token's line; below both apsisd and the CLI.

The file holds one token per line, `NAME RIGHT sha256:HEX`: the name run
logs give the caller ("token ci"), `read`, `operate` or `admin`
(rights.py), and the SHA-256 of the token. `#` starts a comment; blank
lines are allowed. `apsis token new` makes a token and its line. Every
line has always named its right: one written before `admin` existed keeps
the right it names (`operate` no longer makes ad hoc runs), never more.
apsisd reads it (api/tokens.py); `apsis token new` writes its lines and
reads it to refuse a name already in it (cli/token.py).

Only hashes are stored, so the file may be read by anyone who may read the
configuration. A token is 256 random bits (secrets.token_urlsafe(32)), not
a password a person chose: nobody can guess one, from its hash or
otherwise, so a fast hash is right. A slow one (bcrypt, argon2) protects
guessable secrets, and would cost every request milliseconds for nothing.
A caller's token is found by looking up its hash: the lookup's timing can
tell only about the hash of what the caller sent, never about a stored one.

Problems are reported as FILE:LINE: what is wrong, and never quote the
line: a token pasted by mistake where its hash belongs must not reach a log.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from apsisd.errors import ApsisError, FileProblem, InvalidFiles
from apsisd.owned_file import ownership_problem
from apsisd.rights import Right

HASH = "sha256"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", re.ASCII)
NAME_HELP = "1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
RIGHTS = {right.word: right for right in Right if right > Right.NONE}
_HEX = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
Digest = bytes  # a token's SHA-256


class TokensError(ApsisError):
    """The tokens file cannot be used as a whole: missing, unreadable, or not safe from other users (owned by
    someone other than root or apsisd's user, or writable by its group or others)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """One line of the tokens file: whose token it is and what it may do."""

    name: str
    right: Right
    line: int


def new_token() -> str:
    """A new token: 256 random bits, 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> Digest:
    return hashlib.sha256(token.encode()).digest()


def token_line(name: str, right: Right, token: str) -> str:
    """The tokens file's line for `token`: `NAME RIGHT sha256:HEX` (`name` matching NAME)."""
    return f"{name} {right.word} {HASH}:{digest(token).hex()}"


def parse_tokens(text: str, file: str) -> dict[Digest, Token]:
    """The tokens of a tokens file's `text`, by hash; InvalidFiles with every bad line (FILE:LINE)."""
    tokens: dict[Digest, Token] = {}
    names: dict[str, int] = {}
    problems: list[FileProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            name, right, hashed = _fields(fields)
        except ValueError as exc:
            problems.append(FileProblem(file, number, "", str(exc)))
            continue
        if name in names:
            problems.append(FileProblem(file, number, "", f"the name {name} is also on line {names[name]}; give "
                                                          "each token its own name (run logs show it)"))
        elif hashed in tokens:
            problems.append(FileProblem(file, number, "", f"the same token as line {tokens[hashed].line}; make "
                                                          "a new one with apsis token new"))
        else:
            names[name] = number
            tokens[hashed] = Token(name=name, right=right, line=number)
    if problems:
        raise InvalidFiles(problems)
    return tokens


def _fields(fields: list[str]) -> tuple[str, Right, Digest]:
    """NAME, RIGHT and the hash of one line's fields; ValueError says what is wrong without quoting them."""
    if len(fields) != 3:
        raise ValueError(f"{len(fields)} fields where a token's line has 3: NAME RIGHT {HASH}:HEX, as apsis "
                         "token new prints it")
    name, right, hashed = fields
    if not NAME.fullmatch(name):
        raise ValueError(f"the name (first field) must be {NAME_HELP}")
    if right not in RIGHTS:
        raise ValueError(f"the right (second field) must be one of {', '.join(RIGHTS)}")
    scheme, colon, hex_digits = hashed.partition(":")
    if scheme != HASH or not colon or not _HEX.fullmatch(hex_digits):
        raise ValueError(f"the third field must be the token's hash, {HASH}: and 64 hex digits, as apsis token new "
                         "prints it (never the token itself)")
    return name, RIGHTS[right], bytes.fromhex(hex_digits)


def read_tokens(path: Path) -> dict[Digest, Token]:
    """The tokens of the file at `path`: TokensError if it cannot be used, InvalidFiles for its bad lines."""
    try:
        with path.open("rb") as file:
            info = os.fstat(file.fileno())
            data = file.read()
    except OSError as exc:
        raise TokensError(f"{path}: cannot read the API's tokens file: {exc.strerror}; create it (it may be "
                          "empty) or correct [api] tokens") from None
    if not stat.S_ISREG(info.st_mode):
        raise TokensError(f"{path}: the API's tokens file must be a file")
    # Whoever may write it may give themselves a token.
    if problem := ownership_problem(path, info, "the API's tokens file", secret=False, euid=os.geteuid()):
        raise TokensError(problem)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TokensError(f"{path}: the API's tokens file is not UTF-8 text (byte {exc.start})") from None
    return parse_tokens(text, str(path))
