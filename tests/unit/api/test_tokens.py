"""The API's token store: it follows the tokens file, keeps the last good tokens while it cannot be used; the
bearer token of a request."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from apsisd.api.access import Principal, bearer
from apsisd.api.tokens import TokenStore
from apsisd.rights import Right
from apsisd.tokens_file import TokensError, new_token, token_line

CI, VIEWER = new_token(), new_token()


def lines(*entries: tuple[str, Right, str]) -> str:
    return "".join(f"{token_line(name, right, token)}\n" for name, right, token in entries)


def test_the_store_follows_the_file_and_keeps_the_last_good_tokens(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    file = tmp_path / "tokens"
    file.write_text(lines(("ci", Right.OPERATE, CI)))
    store = TokenStore(file)
    assert store.principal(CI) == Principal(name="token ci", right=Right.OPERATE)
    assert store.principal(VIEWER) is None and store.principal("") is None
    file.write_text(lines(("ci", Right.OPERATE, CI), ("viewer", Right.READ, VIEWER)))  # added: no restart
    assert store.principal(VIEWER) == Principal(name="token viewer", right=Right.READ)
    file.write_text(lines(("viewer", Right.READ, VIEWER)))  # revoked
    assert store.principal(CI) is None

    def invalid() -> list[str]:
        return [record.getMessage() for record in caplog.records if record.__dict__.get("action") == "tokens_invalid"]

    with caplog.at_level(logging.INFO, "apsisd.api"):
        file.write_text(lines(("viewer", Right.READ, VIEWER)) + "ci opperate sha256:00\n")  # a typo
        for _ in range(3):
            assert store.principal(VIEWER) is not None and store.principal(CI) is None
        assert invalid() == [  # each problem, then what it means: once
            f"{file}:2: the right (second field) must be one of read, operate, admin",
            f"API tokens: {file} cannot be used; the tokens read before stay in force until it is fixed",
        ]
        file.unlink()  # gone: kept too, said once
        assert store.principal(VIEWER) is not None and store.principal(VIEWER) is not None
        assert len(invalid()) == 4 and "No such file or directory" in invalid()[2]
        file.write_text(lines(("ci", Right.READ, CI)))
        assert store.principal(CI) == Principal(name="token ci", right=Right.READ) and store.principal(VIEWER) is None
        assert len(invalid()) == 4
    assert CI not in caplog.text and VIEWER not in caplog.text


def test_a_file_made_unsafe_keeps_the_last_good_tokens(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file = tmp_path / "tokens"
    file.write_text(lines(("ci", Right.OPERATE, CI)))
    file.chmod(0o640)
    store = TokenStore(file)
    with caplog.at_level(logging.INFO, "apsisd.api"):
        file.write_text(lines(("ci", Right.OPERATE, CI), ("viewer", Right.READ, VIEWER)))
        file.chmod(0o666)  # anyone may now add a line
        assert store.principal(VIEWER) is None and store.principal(CI) is not None
    assert [record.getMessage() for record in caplog.records if record.__dict__.get("action") == "tokens_invalid"] == [
        f"{file}: the API's tokens file (mode 0666) may be written by anyone; only its owner may write it: chmod go-w "
        f"{file}",
        f"API tokens: {file} cannot be used; the tokens read before stay in force until it is fixed",
    ]
    file.chmod(0o644)
    assert store.principal(VIEWER) == Principal(name="token viewer", right=Right.READ)


def test_a_store_needs_a_usable_file_to_start() -> None:
    with pytest.raises(TokensError):
        TokenStore(Path("/nonexistent/tokens"))


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc", "abc"),
    ("bearer  abc ", "abc"),
    ("BEARER abc", "abc"),
    (None, None),
    ("", None),
    ("Bearer", None),
    ("Bearer ", None),
    ("Basic abc", None),
    ("Bearer a b", None),
    ("abc", None),
])
def test_the_bearer_token_of_an_authorization_header(header: str | None, token: str | None) -> None:
    assert bearer(header) == token
