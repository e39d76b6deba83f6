"""The tokens file's lines: parsed strictly (FILE:LINE, never quoting a line), hashes only; a file that cannot
be used as a whole."""
from __future__ import annotations

from pathlib import Path

import pytest

from apsisd.errors import InvalidFiles
from apsisd.rights import Right
from apsisd.tokens_file import TokensError, digest, new_token, parse_tokens, read_tokens, token_line

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
