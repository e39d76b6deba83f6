"""The tokens file: parsed strictly (FILE:LINE, never quoting a line), hashes only, re-read when it changes, the
last good tokens kept while it is wrong."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from apsisd.api.access import Principal, Right, bearer
from apsisd.api.tokens import TokensError, TokenStore, digest, new_token, parse_tokens, read_tokens, token_line
from apsisd.errors import InvalidFiles

CI, VIEWER = new_token(), new_token()


def lines(*entries: tuple[str, Right, str]) -> str:
    return "".join(f"{token_line(name, right, token)}\n" for name, right, token in entries)


def test_a_new_token_is_256_random_bits_and_its_line_holds_only_its_hash() -> None:
    assert len(CI) == 43 and CI != VIEWER
    line = token_line("ci", Right.OPERATE, CI)
    assert line == f"ci operate sha256:{digest(CI).hex()}" and CI not in line
    assert token_line("grafana", Right.READ, VIEWER).startswith("grafana read sha256:")


def test_comments_blank_lines_and_both_rights() -> None:
    text = (f"# who may use the API over TCP\n\n  {token_line('ci', Right.OPERATE, CI)}  # the deploy job\n"
            f"grafana@ops.example read sha256:{digest(VIEWER).hex().upper()}\n")  # hex digits in either case
    tokens = parse_tokens(text, "tokens")
    assert {hashed: (token.name, token.right, token.line) for hashed, token in tokens.items()} == {
        digest(CI): ("ci", Right.OPERATE, 3), digest(VIEWER): ("grafana@ops.example", Right.READ, 4)}
    assert tokens[digest(VIEWER)].principal == Principal(name="token grafana@ops.example", right=Right.READ)
    assert parse_tokens("", "tokens") == parse_tokens("# none yet\n\n", "tokens") == {}


def test_every_bad_line_with_its_line_and_never_its_text() -> None:
    hashed = f"sha256:{digest(CI).hex()}"
    text = "\n".join([
        f"ci operate {hashed}",
        f"ci {CI}",  # the token itself, pasted by mistake
        f"viewer read {CI}",
        f"viewer write sha256:{digest(VIEWER).hex()}",
        f"-x read sha256:{digest(VIEWER).hex()}",
        f"viewer read md5:{digest(VIEWER).hex()}",
        f"viewer read sha256:{digest(VIEWER).hex()[:-1]}",
        f"ci read sha256:{digest(VIEWER).hex()}",
        f"other read {hashed}",
        f"viewer read {hashed} extra",
    ])
    with pytest.raises(InvalidFiles) as caught:
        parse_tokens(text, "/etc/apsis/api-tokens")
    messages = [str(problem) for problem in caught.value.problems]
    assert messages == [
        "/etc/apsis/api-tokens:2: 2 fields where a token's line has 3: NAME RIGHT sha256:HEX, as apsis token new "
        "prints it",
        "/etc/apsis/api-tokens:3: the third field must be the token's hash, sha256: and 64 hex digits, as apsis "
        "token new prints it (never the token itself)",
        "/etc/apsis/api-tokens:4: the right (second field) must be one of read, operate, admin",
        "/etc/apsis/api-tokens:5: the name (first field) must be 1 to 64 letters, digits, '.', '_', '@' or '-', "
        "starting with a letter or digit",
        "/etc/apsis/api-tokens:6: the third field must be the token's hash, sha256: and 64 hex digits, as apsis "
        "token new prints it (never the token itself)",
        "/etc/apsis/api-tokens:7: the third field must be the token's hash, sha256: and 64 hex digits, as apsis "
        "token new prints it (never the token itself)",
        "/etc/apsis/api-tokens:8: the name ci is also on line 1; give each token its own name (run logs show it)",
        "/etc/apsis/api-tokens:9: the same token as line 1; make a new one with apsis token new",
        "/etc/apsis/api-tokens:10: 4 fields where a token's line has 3: NAME RIGHT sha256:HEX, as apsis token new "
        "prints it",
    ]
    assert not any(CI in message for message in messages)


def test_a_file_that_cannot_be_used(tmp_path: Path) -> None:
    with pytest.raises(TokensError, match=r"none: cannot read the API's tokens file: No such file or directory; "
                                          r"create it \(it may be empty\)"):
        read_tokens(tmp_path / "none")
    with pytest.raises(TokensError, match=r": cannot read the API's tokens file: Is a directory"):
        read_tokens(tmp_path)
    file = tmp_path / "tokens"
    file.write_bytes(b"caf\xe9 read sha256:00\n")
    with pytest.raises(TokensError, match=r"tokens: the API's tokens file is not UTF-8 text \(byte 3\)"):
        read_tokens(file)
    file.write_text(lines(("ci", Right.OPERATE, CI)))
    for mode, who in ((0o666, "anyone"), (0o602, "anyone"), (0o660, "its group")):
        file.chmod(mode)
        with pytest.raises(TokensError) as caught:
            read_tokens(file)
        assert str(caught.value) == (f"{file}: the API's tokens file (mode {mode:04o}) may be written by {who}; only "
                                     f"its owner may write it: chmod go-w {file}")
    file.chmod(0o644)  # it holds hashes: anyone may read it
    assert list(read_tokens(file)) == [digest(CI)]


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
