"""Finding apsisd: --url and $APSIS_URL in their three forms, else the socket of apsisd's configuration, falling back
to the system apsisd's for anyone but root."""
from __future__ import annotations

from pathlib import Path

import pytest

from apsisd.cli.address import Address, BadAddress, default_address, parse_url
from apsisd.cli.defaults import api_sockets


@pytest.mark.parametrize(("text", "address", "shown"), [
    ("unix:/run/apsis/api.sock", Address(scheme="unix", socket=Path("/run/apsis/api.sock")),
     "unix:/run/apsis/api.sock"),
    ("unix:///tmp/a.sock", Address(scheme="unix", socket=Path("/tmp/a.sock")), "unix:/tmp/a.sock"),
    ("/tmp/a.sock", Address(scheme="unix", socket=Path("/tmp/a.sock")), "unix:/tmp/a.sock"),
    ("http://sched.example:5050", Address(scheme="http", host="sched.example", port=5050),
     "http://sched.example:5050"),
    ("https://sched.example/apsis/", Address(scheme="https", host="sched.example", prefix="/apsis"),
     "https://sched.example/apsis"),
    ("http://[::1]:5050", Address(scheme="http", host="::1", port=5050), "http://[::1]:5050"),
])
def test_the_forms_of_an_address(text: str, address: Address, shown: str) -> None:
    assert parse_url(text) == address
    assert str(address) == shown


@pytest.mark.parametrize(("text", "message"), [
    ("unix:api.sock", "'unix:api.sock': a socket's path must be absolute; write unix:/run/apsis/api.sock"),
    ("ftp://host", "'ftp://host' is not an address; write unix:"),
    ("localhost:5050", "'localhost:5050' is not an address"),
    ("http://host:99999", "'http://host:99999': the port must be a number from 1 to 65535"),
    ("http://host:5050/?x=1", "'http://host:5050/?x=1': an address has no query"),
])
def test_what_is_not_an_address(text: str, message: str) -> None:
    with pytest.raises(BadAddress) as caught:
        parse_url(text)
    assert str(caught.value).startswith(message)


def test_how_to_start_the_apsisd_of_an_address() -> None:
    assert parse_url("unix:/run/apsis/api.sock").start_hint == "start it: systemctl start apsisd"
    assert parse_url("unix:/run/user/1000/apsis/api.sock").start_hint == "start it: systemctl --user start apsisd"


def test_root_talks_to_the_configured_socket(tmp_path: Path) -> None:
    if not Path("/etc/apsis/apsisd.toml").exists():
        assert api_sockets({}, euid=0) == (Path("/run/apsis/api.sock"),)
    config = tmp_path / "apsisd.toml"
    (tmp_path / "tokens").write_text("")
    config.write_text('[api]\nlisten = ["tcp:127.0.0.1:5050", "unix:sock/api.sock"]\ntokens = "tokens"\n')
    assert api_sockets({"APSIS_CONFIG": str(config)}, euid=0) == (tmp_path / "sock" / "api.sock",)
    assert api_sockets({"APSIS_CONFIG": str(config)}, euid=1000) == (tmp_path / "sock" / "api.sock",)


def test_anyone_else_tries_their_own_apsisd_then_the_systems(tmp_path: Path) -> None:
    if Path("/etc/apsis/apsisd.toml").exists():
        pytest.skip("this machine has an /etc/apsis/apsisd.toml")
    environ = {"XDG_RUNTIME_DIR": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    own = tmp_path / "apsis" / "api.sock"
    system = Path("/run/apsis/api.sock")
    assert api_sockets(environ, euid=1000) == (own, system)
    assert default_address([own, system], exists=lambda path: path == own).socket == own
    assert default_address([own, system], exists=lambda path: path == system).socket == system
    assert default_address([own, system], exists=lambda path: False).socket == system  # named when not running
