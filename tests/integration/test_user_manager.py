"""The unprivileged mode: LocalHost as an ordinary user, on that user's own `systemd --user`.

The sandbox has no logind (its state folder is read-only) and no spare
user, so the fixture makes both inside the sandbox's own mount namespace:
a user bound over copies of /etc/passwd, group and shadow, and
user@UID.service told its runtime folder. Nothing of it reaches the host.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import new_run_id

UID = 1500
USER = "apsistest"
ROOT = Path(__file__).resolve().parents[2]
DROP_IN = Path(f"/run/systemd/system/user@{UID}.service.d/apsis-test.conf")


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, timeout=60)


@pytest.fixture
def user_manager(tmp_path: Path) -> Iterator[dict[str, str]]:
    lines = {"passwd": f"{USER}:x:{UID}:{UID}::/nonexistent:/usr/sbin/nologin",
             "group": f"{USER}:x:{UID}:", "shadow": f"{USER}:*:20000:0:99999:7:::"}
    mounted = []
    try:
        for name, line in lines.items():
            copy = tmp_path / name
            copy.write_text(Path(f"/etc/{name}").read_text() + line + "\n")
            sh("mount", "--bind", str(copy), f"/etc/{name}")
            mounted.append(f"/etc/{name}")
        # Without logind, user-runtime-dir would wait 25 s for it, and PAM would not set this:
        sh("systemctl", "mask", "--runtime", "--now", "systemd-logind.service")
        DROP_IN.parent.mkdir(parents=True, exist_ok=True)
        DROP_IN.write_text(f"[Service]\nEnvironment=XDG_RUNTIME_DIR=/run/user/{UID}\n")
        sh("systemctl", "daemon-reload")
        sh("systemctl", "start", f"user@{UID}.service")
        yield {"XDG_RUNTIME_DIR": f"/run/user/{UID}", "HOME": "/", "USER": USER, "LOGNAME": USER,
               "PATH": "/usr/bin:/bin"}
    finally:
        subprocess.run(["systemctl", "stop", f"user@{UID}.service"], timeout=60)
        DROP_IN.unlink(missing_ok=True)
        subprocess.run(["systemctl", "unmask", "--runtime", "systemd-logind.service"], timeout=60)
        subprocess.run(["systemctl", "daemon-reload"], timeout=60)
        for path in reversed(mounted):
            subprocess.run(["umount", path], timeout=60)


def as_user(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "env", "-i",
                           *(f"{k}={v}" for k, v in env.items()), *argv],
                          capture_output=True, text=True, timeout=120, cwd="/")


def python_for(env: dict[str, str]) -> list[str]:
    """This interpreter if the user may run it, else the system's (the same 3.11 on Debian 12)."""
    if as_user(env, sys.executable, "-c", "pass").returncode == 0:
        return [sys.executable]
    return ["/usr/bin/python3"]


def test_localhost_runs_on_the_users_own_manager(user_manager: dict[str, str]) -> None:
    env = {**user_manager, "PYTHONPATH": f"{ROOT}:{sysconfig.get_paths()['purelib']}",
           "PYTHONDONTWRITEBYTECODE": "1"}
    prefix = new_run_id()
    proc = as_user(env, *python_for(env), str(ROOT / "tests/integration/user_manager_client.py"), prefix)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["uid"] == UID and seen["user_manager"] is True
    assert seen["plain"] == {"started": True, "result": "exit-code", "exit_code": 3, "stop_requested": False,
                             "succeeded": False, "recovered": False, "finished_events": 1}
    # Lines of short-lived children too (journald may read them after their process is gone).
    assert seen["plain_output"] == f"out\n{UID}\nchild1\nchild2\nchild3\ncaf\xe9\n"
    assert seen["split"]["exit_code"] == 5
    assert seen["split_output"] == [["out\n", 6], ["err\n", 3]]
    assert f"{prefix}b" in seen["listed"]
    assert seen["stopped"]["stop_requested"] is True and seen["stopped"]["succeeded"] is False
    assert seen["other_user"] == "user"
    assert seen["away"]["exit_code"] == 4 and seen["away"]["finished_events"] == 1
    assert seen["forgotten"]["recovered"] is True and seen["forgotten"]["exit_code"] == 6
    # The runs were the user's manager's, not the system's.
    system_units = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "apsis-*"],
                                  capture_output=True, text=True, timeout=30).stdout
    assert prefix not in system_units
    assert os.geteuid() == 0  # the test itself stayed root; only the client was the user
