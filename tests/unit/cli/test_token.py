"""`apsis token new`: a token printed once, and its line (the hash only) for the configured tokens file."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from apsisd.cli.main import apsis
from apsisd.rights import Right
from apsisd.tokens_file import digest, parse_tokens


def new(tmp_path: Path, *args: str, config: str = "") -> tuple[int, list[str]]:
    (tmp_path / "apsisd.toml").write_text(config)
    result = CliRunner().invoke(apsis, ["token", "new", *args], env={"APSIS_CONFIG": str(tmp_path / "apsisd.toml")})
    return result.exit_code, result.output.splitlines()


def test_the_token_once_and_its_line_for_the_configured_file(tmp_path: Path) -> None:
    code, output = new(tmp_path, "ci", "--right", "operate", config='[api]\ntokens = "api-tokens"\n')
    token = output[2].strip()
    assert (code, output[0], len(token)) == (0, "Token ci (operate), shown only now: apsis keeps only its hash.", 43)
    assert output[-2] == f"Add this line to {tmp_path}/api-tokens ([api] tokens); apsisd reads it again by itself, " \
                         "no restart:"
    assert output[-1] == f"ci operate sha256:{digest(token).hex()}"
    assert sum(token in line for line in output) == 1  # the line has only its hash
    [found] = parse_tokens(output[-1], "tokens").items()
    assert (found[0], found[1].name, found[1].right) == (digest(token), "ci", Right.OPERATE)
    assert not (tmp_path / "api-tokens").exists()  # nothing written


@pytest.mark.parametrize("options", [(), ("--right", "read"), ("--read-only",), ("--read-only", "--right", "read")])
def test_a_token_reads_unless_told_and_no_tokens_file_configured(tmp_path: Path, options: tuple[str, ...]) -> None:
    code, output = new(tmp_path, "grafana", *options)
    assert (code, output[0].startswith("Token grafana (read)"), output[-1].startswith("grafana read sha256:")) == (
        0, True, True)
    assert output[-2] == f"No tokens file is configured: set [api] tokens in {tmp_path}/apsisd.toml (for example " \
                         "tokens = \"api-tokens\"), and add this line to that file:"


def test_an_admin_token_is_named_so_and_the_deprecated_flag_does_not_contradict(tmp_path: Path) -> None:
    code, output = new(tmp_path, "deploy", "--right", "admin")
    assert (code, output[0].startswith("Token deploy (admin)"), output[-1].startswith("deploy admin sha256:")) == (
        0, True, True)
    [found] = parse_tokens(output[-1], "tokens").values()
    assert found.right is Right.ADMIN
    code, output = new(tmp_path, "deploy", "--read-only", "--right", "operate")
    assert code == 2 and output[-1] == ("Error: --read-only (deprecated: a token reads by default) contradicts --right "
                                        "operate; give only --right")
    code, output = new(tmp_path, "deploy", "--right", "root")
    assert code == 2 and "'root' is not one of 'read', 'operate', 'admin'" in output[-1]


def test_a_name_must_be_new_and_fit(tmp_path: Path) -> None:
    (tmp_path / "api-tokens").write_text(f"# ours\nci read sha256:{'0' * 64}\n")
    code, output = new(tmp_path, "ci", config='api.tokens = "api-tokens"\n')
    assert code == 2 and output[-1] == (f"Error: Invalid value for NAME: {tmp_path}/api-tokens:2 has a token named ci "
                                        "already; revoke it by deleting that line, or choose another name")
    code, output = new(tmp_path, "two words", config='api.tokens = "api-tokens"\n')
    assert code == 2 and "'two words' cannot name a token: use 1 to 64 letters" in output[-1]


def test_an_unreadable_configuration_still_gives_a_token(tmp_path: Path) -> None:
    code, output = new(tmp_path, "ci", config="[api]\nbogus = 1\n")
    assert code == 0 and output[-2].startswith("Add this line to the tokens file that [api] tokens names in apsisd's "
                                               f"configuration (which cannot be read now: {tmp_path}/apsisd.toml:2:")
