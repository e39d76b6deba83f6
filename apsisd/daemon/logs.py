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
import traceback
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TextIO

from apsisd.config.log_level import LogLevel
from apsisd.text import escaped

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
        """The record's one line: a message holds text from callers and files (paths, ids, args, errors), whose
        newlines would forge records of their own and whose ESC sequences would reach an operator's terminal."""
        text = escaped(super().formatMessage(record))
        action = getattr(record, "action", None)
        return f"{text} action={escaped(str(action))}" if action else text

    def formatException(self, ei: Any) -> str:
        """The traceback, a line for each of its lines; but each exception's message (text from anywhere) on one
        line, escaped, so that its newlines cannot make lines of their own. (A message inside an exception group
        is shown behind a margin, which keeps it from looking like a record of its own.)"""
        text = super().formatException(ei)
        for exc in _chain(ei[1]):
            raw = "".join(traceback.format_exception_only(type(exc), exc)).removesuffix("\n")
            text = text.replace(raw, escaped(raw))
        return text

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"

    def format(self, record: logging.LogRecord) -> str:
        cached = record.exc_text
        if record.exc_info:
            record.exc_text = None  # what another handler cached has its messages' newlines; the record keeps it
        try:
            text = super().format(record)
        finally:
            record.exc_text = cached
        if not self.journal:
            return text
        prefix = f"<{journal_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in text.split("\n"))


def _chain(exc: BaseException | None) -> list[BaseException]:
    """The exception, those it was raised from or while handling, and a group's members: each one a traceback
    shows the message of."""
    found: list[BaseException] = []
    pending = [exc]
    while pending:
        each = pending.pop()
        if each is None or any(each is seen for seen in found):
            continue
        found.append(each)
        pending += [each.__cause__, each.__context__, *getattr(each, "exceptions", ())]
    return found
