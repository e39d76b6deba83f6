"""apsisd's log lines on stderr: `<N>` priority prefixes for journald under systemd, timestamps otherwise.

journald reads a service's stderr line by line, takes a leading `<N>` as the
line's syslog priority and stamps the time itself; in a terminal an operator
wants the time and the level spelled out. Either way a record's `action`
(the fixed vocabulary tests and operators grep for: run_started, reloaded...)
ends the line as `action=NAME`.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import TextIO

from apsisd.daemon.config import LogLevel

# Python's levels as syslog priorities (journalctl -p): NOTICE (5) has no Python level.
PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
DEBUG_PRIORITY = 7


def setup_logging(level: LogLevel, *, env: Mapping[str, str] = os.environ, stream: TextIO = sys.stderr) -> None:
    """Every logger (apsisd's and the libraries') writes to `stream` from `level` up, in the format of where
    `stream` goes."""
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(log_handler(env=env, stream=stream))
    root.setLevel(level.number)


def log_handler(*, env: Mapping[str, str], stream: TextIO) -> logging.Handler:
    """A handler writing to `stream`: journal lines when started by systemd ($JOURNAL_STREAM: stderr is
    connected to the journal; $INVOCATION_ID: run as a unit, whose output systemd collects), human ones
    otherwise."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LineFormatter(journal="JOURNAL_STREAM" in env or "INVOCATION_ID" in env))
    return handler


def journal_priority(levelno: int) -> int:
    """The syslog priority of a Python level (a level between two takes the lower one's)."""
    return next((priority for level, priority in PRIORITIES if levelno >= level), DEBUG_PRIORITY)


class LineFormatter(logging.Formatter):
    """`<6>message action=NAME` for the journal; `2026-03-01 09:30:00.123 INFO message action=NAME` otherwise.

    In journal lines every line of a record (a traceback's too) carries the
    prefix, since journald makes each line an entry of its own.
    """

    def __init__(self, *, journal: bool) -> None:
        super().__init__("%(message)s" if journal else "%(asctime)s %(levelname)s %(message)s")
        self.journal = journal

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        action = getattr(record, "action", None)
        return f"{text} action={action}" if action else text

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if not self.journal:
            return text
        prefix = f"<{journal_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in text.split("\n"))
