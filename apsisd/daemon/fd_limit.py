"""apsisd's limit of open files, raised at start from systemd's soft 1024 to the hard limit (524288 by default).

Each API connection, journal reader and unit being watched takes a file descriptor or more; at 1024 a few hundred
idle connections were enough to make accept() fail for everyone, root's `apsis` included. The soft limit stays low
by default only for programs that still use select() (which cannot see descriptors above 1023); apsisd does not,
and its children are journalctl processes (the runs are systemd's, with their units' own limits).
"""
from __future__ import annotations

import logging
import resource

log = logging.getLogger("apsisd")


def raise_fd_limit() -> int:
    """The soft RLIMIT_NOFILE raised to the hard one (logged when it changes); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    log.info("open files: raised the soft limit from %d to the hard limit %d (LimitNOFILE= sets it)", soft, hard,
             extra={"action": "fd_limit"})
    return hard
