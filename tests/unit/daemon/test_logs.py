"""Log lines: `<N>` priorities and no time for journald, a timestamped line in a terminal; the action shown."""
from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from apsisd.config.log_level import LogLevel
from apsisd.daemon.logs import journal_priority, log_handler, setup_logging


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger of its own, not passing records up to the root (pytest's handlers are there)."""
    log = logging.getLogger("test_logs")
    log.propagate, log.level = False, logging.DEBUG
    yield log
    log.handlers.clear()


def lines(logger: logging.Logger, env: dict[str, str]) -> str:
    stream = io.StringIO()
    logger.addHandler(log_handler(env=env, stream=stream))
    logger.info("run %s started as %s", "r12", "apsis-r12.service", extra={"action": "run_started"})
    logger.warning("no action here")
    logger.debug("details")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.error("reload failed", exc_info=True, extra={"action": "reload_failed"})
    logger.critical("gone")
    return stream.getvalue()


@pytest.mark.parametrize("env", [{"JOURNAL_STREAM": "8:12345"}, {"INVOCATION_ID": "0123abcd"}])
def test_under_systemd_lines_carry_priorities_and_no_time(logger: logging.Logger, env: dict[str, str]) -> None:
    text = lines(logger, env)
    assert re.sub(r", line \d+,", ", line N,", text).split("\n") == [
        "<6>run r12 started as apsis-r12.service action=run_started",
        "<4>no action here",
        "<7>details",
        "<3>reload failed action=reload_failed",
        "<3>Traceback (most recent call last):",
        f'<3>  File "{__file__}", line N, in lines',
        '<3>    raise ValueError("boom")',
        "<3>ValueError: boom",
        "<2>gone",
        "",
    ]


def test_in_a_terminal_lines_have_the_time_and_the_level(logger: logging.Logger) -> None:
    text = lines(logger, {"TERM": "xterm"})
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"
    assert re.fullmatch(
        rf"{stamp} INFO run r12 started as apsis-r12\.service action=run_started\n"
        rf"{stamp} WARNING no action here\n"
        rf"{stamp} DEBUG details\n"
        rf"{stamp} ERROR reload failed action=reload_failed\n"
        r"Traceback \(most recent call last\):\n(.*\n)+ValueError: boom\n"
        rf"{stamp} CRITICAL gone\n", text), text


def test_levels_between_python_s_take_the_lower_priority() -> None:
    assert [journal_priority(level) for level in (5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60)] == [
        7, 7, 7, 6, 6, 4, 4, 3, 3, 2, 2]


def test_setup_logging_sends_every_logger_to_the_stream_from_the_level() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        setup_logging(LogLevel.WARNING, env={"JOURNAL_STREAM": "1:2"}, stream=stream)
        assert len(root.handlers) == 1
        logging.getLogger("aiohttp.client").info("hidden")
        logging.getLogger("apsisd.scheduler").warning("shown", extra={"action": "x"})
    finally:
        root.handlers[:], root.level = saved
    assert stream.getvalue() == "<4>shown action=x\n"


HOSTILE = "/api/v1/runs/r1\n<6>run r1 success: forged action=run_success\r\x1b[2J\x9b\u2028\u202e"


@pytest.mark.parametrize("env", [{"JOURNAL_STREAM": "8:12345"}, {"TERM": "xterm"}])
def test_a_record_is_one_line_whatever_its_text_holds(logger: logging.Logger, env: dict[str, str]) -> None:
    stream = io.StringIO()
    logger.addHandler(log_handler(env=env, stream=stream))
    logger.info("API: GET %s failed", HOSTILE, extra={"action": "api_failed"})
    (line,) = stream.getvalue().splitlines()  # str.splitlines() breaks at \u2028, \x1c-\x1e and \x85 too
    assert line.endswith(r"API: GET /api/v1/runs/r1\n<6>run r1 success: forged action=run_success\r\x1b[2J\x9b"
                         r"\u2028\u202e failed action=api_failed")
    assert stream.getvalue().count("\n") == 1


def test_a_tracebacks_messages_are_escaped_and_its_lines_kept(logger: logging.Logger) -> None:
    stream = io.StringIO()
    logger.addHandler(log_handler(env={"JOURNAL_STREAM": "8:12345"}, stream=stream))
    try:
        try:
            raise KeyError("first\nline")
        except KeyError as exc:
            raise ValueError(HOSTILE) from exc
    except ValueError:
        logger.exception("failed", extra={"action": "api_failed"})
    text = stream.getvalue()
    assert text.splitlines() == text.split("\n")[:-1]  # no line break but \n
    records = text.splitlines()
    assert records[0] == "<3>failed action=api_failed"
    assert "<3>KeyError: 'first\\nline'" in records
    assert r"<3>ValueError: /api/v1/runs/r1\n<6>run r1 success: forged action=run_success\r\x1b[2J\x9b\u2028\u202e" \
        in records
    assert sum("action=" in line for line in records) == 2  # the record's, and the escaped one inside the message
    assert all(line.startswith("<3>") for line in records)
