"""`apsis --version`: the installed distribution's version, with no daemon and no configuration read."""
from __future__ import annotations

import importlib.metadata

from click.testing import CliRunner

from apsisd.cli.main import apsis


def test_version_is_the_installed_distributions() -> None:
    result = CliRunner().invoke(apsis, ["--version"], env={"APSIS_URL": "unix:/nonexistent/api.sock"})
    assert result.exit_code == 0, result.output
    assert result.output == f"apsis {importlib.metadata.version('apsis')}\n"
