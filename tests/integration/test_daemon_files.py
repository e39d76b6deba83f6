"""What apsisd makes is its own: its umask is 077, its database 0600 (and the database of an older apsisd
tightened), and its API socket is born with the mode the policy gives (0660 for the operators' group, 0666 only
when others may read)."""
from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from tests.integration.api import SOCKET
from tests.integration.daemon import Daemon, with_daemon


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def umask(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)


@with_daemon()
async def test_the_database_and_the_socket_have_their_modes_from_the_start(daemon: Daemon) -> None:
    database = daemon.state / "apsis.db"
    await daemon.start(*daemon.config('[api]\ngroup = "nogroup"\n'))
    assert daemon.process is not None and umask(daemon.process.pid) == 0o077
    files = [database, database.with_name("apsis.db-wal"), database.with_name("apsis.db-shm")]
    assert [mode(path) for path in files] == [0o600] * 3
    assert (mode(SOCKET), os.stat(SOCKET).st_gid) == (0o660, grp.getgrnam("nogroup").gr_gid)
    assert await daemon.stop() == 0
    for path in files:  # as an apsisd older than this one left them
        path.chmod(0o644)
    await daemon.start(*daemon.config('[api]\nothers = "read"\n'))
    assert [mode(path) for path in files] == [0o600] * 3
    assert mode(SOCKET) == 0o666
