"""Who may own and change the files apsisd trusts: root or apsisd's user, writable by its owner alone."""
from __future__ import annotations

import os
import stat

import pytest

from apsisd.owned_file import ownership_problem


def info(mode: int, uid: int) -> os.stat_result:
    return os.stat_result((stat.S_IFREG | mode, 1, 1, 1, uid, 0, 10, 0, 0, 0))


@pytest.mark.parametrize(("mode", "uid", "euid", "secret"), [
    (0o644, 0, 0, False),  # root's, apsisd root
    (0o600, 0, 0, True),
    (0o640, 0, 0, True),  # a group may read a key
    (0o644, 999, 999, False),  # apsisd's user's, apsisd not root
    (0o644, 0, 999, False),  # root's, apsisd not root
    (0o400, 999, 999, True),
])
def test_safe_files(mode: int, uid: int, euid: int, secret: bool) -> None:
    assert ownership_problem("/f", info(mode, uid), "the file", secret=secret, euid=euid) is None


@pytest.mark.parametrize(("mode", "uid", "euid", "secret", "problem"), [
    (0o644, 1000, 0, False, "/f: the file is owned by uid 1000, who could change it at will; it must belong to root: "
                            "chown root /f"),
    (0o600, 1000, 999, True, "/f: the file is owned by uid 1000, who could change it at will; it must belong to "
                             "root or uid 999 (apsisd's user): chown root /f"),
    (0o664, 0, 0, False, "/f: the file (mode 0664) may be written by its group; only its owner may write it: "
                         "chmod go-w /f"),
    (0o646, 0, 0, False, "/f: the file (mode 0646) may be written by anyone; only its owner may write it: "
                         "chmod go-w /f"),
    (0o604, 0, 0, True, "/f: the file (mode 0604) may be read by anyone; it is a secret: chmod o-rwx /f"),
])
def test_unsafe_files(mode: int, uid: int, euid: int, secret: bool, problem: str) -> None:
    assert ownership_problem("/f", info(mode, uid), "the file", secret=secret, euid=euid) == problem
