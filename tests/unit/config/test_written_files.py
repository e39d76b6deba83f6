"""etc/apsisd.toml and the table of keys in docs/configuration.md are what the table of settings writes: a setting
changed in the code and not in them (or the other way round) fails here until tools/write_settings.py is run."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from apsisd.config.render import BEGIN, END, sample_file, settings_table, with_settings_table

ROOT = Path(__file__).resolve().parents[3]
REWRITE = "run .venv/bin/python tools/write_settings.py and commit what it writes"


def test_etc_apsisd_toml_is_the_settings_table_written_out() -> None:
    assert (ROOT / "etc" / "apsisd.toml").read_text() == sample_file(), REWRITE


def test_the_docs_table_of_keys_is_the_settings_table_written_out() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    assert text.count(BEGIN) == text.count(END) == 1
    assert text == with_settings_table(text), REWRITE


def test_only_what_lies_between_the_markers_is_replaced() -> None:
    assert with_settings_table(f"# Title\n\nbefore\n{BEGIN}\n| stale |\n{END}\nafter\n") == (
        f"# Title\n\nbefore\n{settings_table()}after\n")
    with pytest.raises(ValueError, match="markers of the settings table are missing"):
        with_settings_table(f"no begin\n{END}\n")
    with pytest.raises(ValueError, match="markers of the settings table are missing"):
        with_settings_table(f"{END}\nthe end before the begin\n{BEGIN}\n")


def _tool(root: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("write_settings", ROOT / "tools" / "write_settings.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(tool, "ROOT", root)
    monkeypatch.setattr(tool, "SAMPLE", root / "etc" / "apsisd.toml")
    monkeypatch.setattr(tool, "DOCS", root / "docs" / "configuration.md")
    return tool


def test_the_tool_checks_then_writes_both_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("etc/apsisd.toml", "docs/configuration.md"):
        (tmp_path / name).parent.mkdir()
        shutil.copy(ROOT / name, tmp_path / name)
    tool = _tool(tmp_path, monkeypatch)
    assert tool.main(["--check"]) == 0
    (tmp_path / "etc/apsisd.toml").write_text("# stale\n")
    docs = (tmp_path / "docs/configuration.md").read_text()
    (tmp_path / "docs/configuration.md").write_text(docs.replace(f"{BEGIN}\n", f"{BEGIN}\n| stale |\n"))
    capsys.readouterr()
    assert tool.main(["--check"]) == 1
    assert capsys.readouterr().out == ("etc/apsisd.toml: differs from the settings\n"
                                       "docs/configuration.md: differs from the settings\n")
    assert (tmp_path / "etc/apsisd.toml").read_text() == "# stale\n"  # --check writes nothing
    assert tool.main([]) == 0
    assert (tmp_path / "etc/apsisd.toml").read_text() == sample_file()
    assert (tmp_path / "docs/configuration.md").read_text() == docs
    assert tool.main(["--check"]) == 0
    assert tool.main(["--write"]) == 2
