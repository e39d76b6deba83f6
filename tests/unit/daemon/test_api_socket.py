"""The API socket is bound with its final mode (the umask around bind), its stale file replaced, nothing else."""
from __future__ import annotations

import grp
import os
import socket
import stat
from pathlib import Path

import pytest

from apsisd.daemon.api_socket import SocketAccess, bind_unix, socket_access


def own_group() -> str:
    return grp.getgrgid(os.getegid()).gr_name


def test_the_mode_follows_the_policy() -> None:
    assert socket_access(group=own_group(), others_read=True) == SocketAccess(mode=0o666, gid=None)
    assert socket_access(group=own_group(), others_read=False) == SocketAccess(mode=0o660, gid=None)
    assert socket_access(group="no-such-group-here", others_read=False) == SocketAccess(mode=0o600, gid=None)


def test_no_operators_group_keeps_the_socket_to_its_user_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert socket_access(group=None, others_read=False) == SocketAccess(mode=0o600, gid=None)
    assert socket_access(group=None, others_read=True) == SocketAccess(mode=0o666, gid=None)
    assert not caplog.records, "a user's own apsisd has nothing to warn about"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file to any group")
def test_root_gives_the_socket_to_the_operators_group(tmp_path: Path) -> None:
    other = next(group for group in grp.getgrall() if group.gr_gid != os.getegid())
    access = socket_access(group=other.gr_name, others_read=False)
    assert access == SocketAccess(mode=0o660, gid=other.gr_gid)
    with bind_unix(tmp_path / "api.sock", access):
        info = (tmp_path / "api.sock").stat()
    assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, other.gr_gid)


@pytest.mark.parametrize("mode", [0o666, 0o660, 0o600])
def test_the_socket_is_born_with_its_mode(tmp_path: Path, mode: int, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run" / "api.sock"
    chmod = os.chmod

    def no_chmod_of_the_socket(target: object, *args: object, **kwargs: object) -> None:
        # A chmod after bind would pass the mode check below, with the socket open wider in between.
        assert Path(str(target)) != path, "the socket's mode must come from the umask at bind, not a chmod after"
        chmod(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "chmod", no_chmod_of_the_socket)
    monkeypatch.setattr(os, "fchmod", lambda *_: pytest.fail("the socket must not be fchmod-ed after bind"))
    umask = os.umask(0o077)
    try:
        with bind_unix(path, SocketAccess(mode=mode, gid=None)) as sock:
            assert stat.S_IMODE(path.stat().st_mode) == mode and stat.S_ISSOCK(path.stat().st_mode)
            assert sock.family == socket.AF_UNIX and sock.getsockname() == str(path)
        assert os.umask(0o077) == 0o077  # put back
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755  # the folder it made: reachable, whatever the umask


def test_a_stale_socket_is_replaced_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    bind_unix(path, SocketAccess(mode=0o600, gid=None)).close()  # left behind, as by a killed apsisd
    with bind_unix(path, SocketAccess(mode=0o660, gid=None)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
    path.unlink()
    path.write_text("not a socket")
    with pytest.raises(OSError):
        bind_unix(path, SocketAccess(mode=0o660, gid=None))
    assert path.read_text() == "not a socket"
