"""The API's bearer tokens (for its TCP addresses): the tokens file (tokens_file.py says what it holds), re-read
when it changes, the tokens last read well kept while it cannot be used.

The tokens are never logged, nor the Authorization header.
"""
from __future__ import annotations

import logging
from pathlib import Path

from apsisd.api.access import Principal
from apsisd.errors import InvalidFiles
from apsisd.tokens_file import Digest, Token, TokensError, digest, read_tokens

log = logging.getLogger("apsisd.api")


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
        found = self.holder(digest(token))
        return None if found is None else Principal(name=f"token {found.name}", right=found.right)

    def holder(self, hashed: Digest) -> Token | None:
        """The line of the token whose hash is `hashed`, as the file reads now; None once it is gone (a session
        signed in with it then ends)."""
        self._refresh()
        return self._tokens.get(hashed)

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
