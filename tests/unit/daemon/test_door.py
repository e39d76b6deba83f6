"""Door: who comes in at accept. Over TCP each address may hold max_connections_per_caller, all callers together
max_connections; a place is given back when its connection leaves. (The socket's refusal of a user with no right
and root's exemption need other users: tests/integration/test_api_load.py.)"""
from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from apsisd.api.access import Policy
from apsisd.api.limits import ApiLimits
from apsisd.daemon.door import Door, Refused


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
    conns = [accepted(server, "127.0.0.1") for _ in range(3)]
    try:
        assert [door.enter(conn) for conn in conns[:2]] == ["address 127.0.0.1"] * 2
        refused = door.enter(conns[2])
        assert isinstance(refused, Refused) and (refused.status, refused.message) == (
            429, "address 127.0.0.1 holds 2 connections to apsisd's API, as many as [api] "
                 "max_connections_per_caller allows; close some and try again")
        other = accepted(server, "127.0.0.2")
        assert door.enter(other) == "address 127.0.0.2"
        last = accepted(server, "127.0.0.3")
        refused = door.enter(last)
        assert isinstance(refused, Refused) and refused.status == 503
        assert door.held() == 3
        door.leave("address 127.0.0.1")
        assert door.enter(conns[2]) == "address 127.0.0.1"  # a place given back is taken again
        for conn in (other, last):
            conn.close()
    finally:
        for conn in conns:
            conn.close()
