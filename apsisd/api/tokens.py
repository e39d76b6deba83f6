"""The API's bearer tokens (for its TCP addresses): the file of their hashes, read strictly, re-read when it changes.

The file holds one token per line, `NAME RIGHT sha256:HEX`: the name run
logs give the caller ("token ci"), `read`, `operate` or `admin`
(api/access.py), and the SHA-256 of the token. `#` starts a comment; blank
lines are allowed. `apsis token new` makes a token and its line. Every
line has always named its right: one written before `admin` existed keeps
the right it names (`operate` no longer makes ad hoc runs), never more.

Only hashes are stored, so the file may be read by anyone who may read the
configuration. A token is 256 random bits (secrets.token_urlsafe(32)), not
a password a person chose: nobody can guess one, from its hash or
otherwise, so a fast hash is right. A slow one (bcrypt, argon2) protects
guessable secrets, and would cost every request milliseconds for nothing.
A caller's token is found by looking up its hash: the lookup's timing can
tell only about the hash of what the caller sent, never about a stored one.

Problems are reported as FILE:LINE: what is wrong, and never quote the
line: a token pasted by mistake where its hash belongs must not reach a log.
The tokens are never logged, nor the Authorization header.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from apsisd.api.access import Principal, Right
from apsisd.api.owned_file import ownership_problem
from apsisd.errors import ApsisError, FileProblem, InvalidFiles

log = logging.getLogger("apsisd.api")
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

    @property
    def principal(self) -> Principal:
        return Principal(name=f"token {self.name}", right=self.right)


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


class TokenStore:
    """The tokens file as last read well; looked at (one stat) on every request, re-read when it has changed.

    An operator adds or revokes a token by editing the file, without a
    restart. A file that has become unusable keeps the tokens last read in
    force (a typo must not lock every client out, nor let anyone in) and is
    logged once per version of it.
    """

    def __init__(self, path: Path) -> None:
        """Read `path` now: TokensError or InvalidFiles if it cannot be used (apsisd does not start)."""
        self.path = path
        self._seen = _version(path)  # the file's version last read, well or not
        self._tokens = read_tokens(path)

    def principal(self, token: str) -> Principal | None:
        """Who `token` is, as the file reads now; None for a token it does not hold."""
        self._refresh()
        found = self._tokens.get(digest(token))
        return None if found is None else found.principal

    def _refresh(self) -> None:
        version = _version(self.path)
        if version == self._seen:
            return
        self._seen = version
        try:
            tokens = read_tokens(self.path)
        except (TokensError, InvalidFiles) as exc:
            for problem in exc.problems if isinstance(exc, InvalidFiles) else [exc]:
                log.error("%s", problem, extra={"action": "tokens_invalid"})
            log.error("API tokens: %s cannot be used; the tokens read before stay in force until it is fixed",
                      self.path, extra={"action": "tokens_invalid"})
            return
        self._tokens = tokens
        log.info("API tokens: read %d from %s", len(tokens), self.path, extra={"action": "tokens_read"})


def _version(path: Path) -> tuple[int, ...]:
    """What changes when the file does: replaced (inode), written (size, times); an errno when it cannot be seen."""
    try:
        info = path.stat()
    except OSError as exc:
        return (exc.errno or -1,)
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns
