"""Write etc/apsisd.toml and the table of keys in docs/configuration.md from apsisd.toml's table of settings
(apsisd/config/settings.py). With --check, write nothing: list the files that differ, and exit 1 if any does.

    .venv/bin/python tools/write_settings.py [--check]
"""
from __future__ import annotations

import sys
from pathlib import Path

from apsisd.config.render import sample_file, with_settings_table

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "etc" / "apsisd.toml"
DOCS = ROOT / "docs" / "configuration.md"


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    if argv and not check:
        print(__doc__, file=sys.stderr)
        return 2
    stale = []
    for path, text in ((SAMPLE, sample_file()), (DOCS, with_settings_table(DOCS.read_text()))):
        if path.read_text() != text:
            stale.append(path)
            if not check:
                path.write_text(text)
    for path in stale:
        print(f"{path.relative_to(ROOT)}: {'differs from the settings' if check else 'written'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
