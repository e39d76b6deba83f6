"""Throttled: a warning that recurs thousands of times a second is written at first, then at most once every few
seconds with how many times it happened."""
from __future__ import annotations

import logging

import pytest

from apsisd.daemon.log_throttle import Throttled


def test_said_at_first_then_once_per_period_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    throttled = Throttled(logging.getLogger("test.throttle"), "accept_failed", every=5.0, now=lambda: now[0])
    said = []
    for _ in range(10_000):  # 10,000 failures over 12 s
        now[0] += 0.0012
        said.append(throttled.note("cannot accept"))
    assert sum(said) == 3
    assert [record.getMessage() for record in caplog.records] == [
        "cannot accept", "cannot accept (4167 times in the last 5 s)", "cannot accept (4167 times in the last 5 s)"]
    assert {record.action for record in caplog.records} == {"accept_failed"}  # type: ignore[attr-defined]
