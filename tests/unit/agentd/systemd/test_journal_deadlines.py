"""A journalctl that hangs fails the call (HostError) within the deadline, and is killed, not left behind."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from agentd.errors import HostError
from agentd.systemd import journal

HANGS = "#!/bin/sh\necho $$ > \"$(dirname \"$0\")/pid\"\nexec sleep 300\n"
SPEAKS_THEN_HANGS = "#!/bin/sh\necho $$ > \"$(dirname \"$0\")/pid\"\necho '{\"MESSAGE\": \"one\"}'\nexec sleep 300\n"


@pytest.fixture()
def journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A journalctl first in PATH that the test writes; the deadline shortened to 0.3 s."""
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(journal, "STALL", 0.3)
    return tmp_path / "journalctl"


def _write(script: Path, text: str) -> None:
    script.write_text(text)
    script.chmod(0o755)


def _gone(folder: Path) -> bool:
    pid = int((folder / "pid").read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_a_hanging_read_fails_and_is_killed(journalctl: Path) -> None:
    _write(journalctl, HANGS)

    async def main() -> None:
        with pytest.raises(HostError, match=r"gave nothing for 0\.3 s"):
            [entry async for entry in journal.read(["UNIT=x"])]

    asyncio.run(asyncio.wait_for(main(), 10))
    assert _gone(journalctl.parent)


def test_a_read_that_stalls_after_some_records_gives_them_then_fails(journalctl: Path) -> None:
    _write(journalctl, SPEAKS_THEN_HANGS)
    got = []

    async def main() -> None:
        with pytest.raises(HostError):
            async for entry in journal.read(["UNIT=x"]):
                got.append(entry)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert got == [{"MESSAGE": "one"}]
    assert _gone(journalctl.parent)


def test_a_followed_read_may_be_quiet_for_longer(journalctl: Path) -> None:
    _write(journalctl, SPEAKS_THEN_HANGS)

    async def main() -> list[dict[str, object]]:
        got = []
        with pytest.raises(TimeoutError):  # our own wait, not the reader's: following, silence is no fault
            async with asyncio.timeout(1.0):
                async for entry in journal.read(["UNIT=x"], follow=True):
                    got.append(entry)
        return got

    assert asyncio.run(main()) == [{"MESSAGE": "one"}]
    assert _gone(journalctl.parent)


@pytest.mark.skipif(os.geteuid() != 0, reason="journal.sync() syncs only as root")
def test_a_hanging_sync_fails_and_is_killed(journalctl: Path) -> None:
    _write(journalctl, HANGS)

    async def main() -> None:
        with pytest.raises(HostError, match=r"within 0\.3 s"):
            await journal.sync()

    asyncio.run(asyncio.wait_for(main(), 10))
    assert _gone(journalctl.parent)


def test_hanging_file_heads_fail_and_are_killed(journalctl: Path) -> None:
    _write(journalctl, HANGS)

    async def main() -> None:
        with pytest.raises(HostError, match=r"no answer within 0\.3 s"):
            await journal.file_heads()

    asyncio.run(asyncio.wait_for(main(), 10))
    assert _gone(journalctl.parent)
