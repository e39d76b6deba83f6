"""What an API caller may do: read, operate or admin, each including the ones below it (api/access.py says
what each allows and who holds it).

Below both the API and the CLI: the API checks a caller's right, and `apsis token new` names one in the line
it makes for the tokens file (tokens_file.py).
"""
from __future__ import annotations

import enum


class Right(enum.IntEnum):
    """What a caller may do; each includes the ones below it."""

    NONE = 0
    READ = 1
    OPERATE = 2
    ADMIN = 3

    @property
    def word(self) -> str:
        """The right as tokens files, the configuration and messages name it: read, operate, admin."""
        return self.name.lower()
