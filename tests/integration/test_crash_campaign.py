"""The crash campaign, short: apsisd killed 5 times under its mixed load, with 3 systemd faults among the kills:
a daemon-reload, a daemon-reexec and a restart of journald.

bench/crash_campaign.py does it all (docs/operations.md, "The crash campaign")
and exits non-zero when any run is lost, doubled, wrong, incomplete or stuck;
its report says which and why. The full campaign (100 kills) is run by hand.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_crash_campaign_loses_doubles_and_garbles_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "crash_campaign.py"), "--kills", "5", "--faults", "0.6", "--seed", "12",
         "--settle", "45"],
        capture_output=True, text=True, timeout=400, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
