"""Door: who comes in at accept. Over TCP each address may hold max_connections_per_caller, all callers together
max_connections; a place is given back when its connection leaves. On the socket a user with no right is refused,
and root is neither refused nor counted."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from apsisd.api.access import Policy
from apsisd.config.api_limits import ApiLimits
from apsisd.daemon.door import Door, Refused, caller_address


@pytest.fixture
def server() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listening:
        yield listening


def accepted(server: socket.socket, source: str) -> socket.socket:
    client = socket.socket()
    client.bind((source, 0))
    client.connect(server.getsockname())
    conn, _ = server.accept()
    client.close()
    return conn


def test_per_address_and_overall_caps(server: socket.socket) -> None:
    door = Door(Policy(), ApiLimits(max_connections_per_caller=2, max_connections=3))
    conns = [accepted(server, source) for source in ("127.0.0.1", "127.0.0.1", "127.0.0.2")]
    try:
        assert [door.enter(conn) for conn in conns[:2]] == ["address loopback"] * 2
        refused = door.enter(conns[2])  # another loopback address is the same caller: any local user may bind it
        assert isinstance(refused, Refused) and (refused.status, refused.message) == (
            429, "address loopback holds 2 connections to apsisd's API, as many as [api] "
                 "max_connections_per_caller allows; close some and try again")
        door.leave("address loopback")
        assert door.enter(conns[2]) == "address loopback"  # a place given back is taken again
        assert door.held() == 2
    finally:
        for conn in conns:
            conn.close()
    door = Door(Policy(), ApiLimits(max_connections_per_caller=5, max_connections=2))
    conns = [accepted(server, "127.0.0.1") for _ in range(3)]
    try:
        assert [door.enter(conn) for conn in conns[:2]] == ["address loopback"] * 2
        refused = door.enter(conns[2])
        assert isinstance(refused, Refused) and refused.status == 503
    finally:
        for conn in conns:
            conn.close()


@pytest.mark.parametrize(("address", "counted_as"), [
    ("127.0.0.1", "loopback"), ("127.3.2.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.9", "loopback"),
    ("192.0.2.7", "192.0.2.7"), ("::ffff:192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"), ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("fe80::1%eth0", "fe80::/64"), ("not an address", "not an address"),
])
def test_a_tcp_caller_is_counted_by_its_site(address: str, counted_as: str) -> None:
    assert caller_address(address) == counted_as


def test_a_user_with_no_right_is_refused_and_root_is_not_counted(tmp_path: Path) -> None:
    """(The socket's mode keeps such users out (daemon/api_socket.py); the door refuses them even so.)"""
    if os.geteuid() != 0:
        pytest.skip("needs root, to connect as nobody")
    folder = Path(tempfile.mkdtemp(prefix="apsis-door-"))  # not under pytest's folder: nobody cannot enter it
    try:
        folder.chmod(0o755)
        with socket.socket(socket.AF_UNIX) as listening:
            listening.bind(str(folder / "api.sock"))
            os.chmod(folder / "api.sock", 0o666)
            listening.listen()
            door = Door(Policy(group="no-such-group"), ApiLimits(max_connections_per_caller=1, max_connections=1))
            client = subprocess.Popen(["/usr/bin/python3", "-c", NOBODY_CONNECTS, str(folder / "api.sock")],
                                      user="nobody", group="nogroup", stdin=subprocess.PIPE, cwd="/")
            try:
                conn, _ = listening.accept()
                with conn:
                    refused = door.enter(conn)
            finally:
                client.kill()
                client.wait(10)
            assert isinstance(refused, Refused) and (refused.status, refused.message) == (
                403, "not allowed: the API answers root, apsisd's user and the group no-such-group (and anyone, "
                     'with [api] others = "read")')
            with socket.socket(socket.AF_UNIX) as mine:
                mine.connect(str(folder / "api.sock"))
                conn, _ = listening.accept()
                with conn:
                    assert [door.enter(conn), door.enter(conn), door.held()] == [None, None, 0]  # root: not counted
    finally:
        shutil.rmtree(folder)


NOBODY_CONNECTS = """
import socket, sys
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
sys.stdin.read()
"""
