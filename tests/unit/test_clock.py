"""loop_delay: how long to ask the event loop to wait for a moment, so the kernel's timer slack cannot make it late."""
from __future__ import annotations

import pytest

from apsisd.clock import loop_delay


@pytest.mark.parametrize("seconds", [0.5, 1.0, 60.0, 3600.0])
def test_a_long_wait_is_asked_short_by_the_slack_linux_may_add(seconds: float) -> None:
    # epoll_wait may end late by 0.1% of its timeout (0.5% when niced), at most 100 ms.
    asked = loop_delay(seconds)
    assert asked + min(seconds * 0.005, 0.1) <= seconds
    assert asked > 0


def test_waiting_again_for_the_rest_comes_down_to_one_short_exact_wait() -> None:
    remaining, waits = 60.0, 0
    while (asked := loop_delay(remaining)) < remaining:
        remaining -= asked
        waits += 1
    assert waits <= 3
    assert remaining <= 0.005  # then asked in full: short enough for the 50 µs timer slack


@pytest.mark.parametrize(("seconds", "asked"), [(0.004, 0.004), (0.0, 0.0), (-2.0, 0.0)])
def test_a_short_or_past_wait_is_asked_as_it_is(seconds: float, asked: float) -> None:
    assert loop_delay(seconds) == asked
