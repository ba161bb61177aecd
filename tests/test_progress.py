"""rhtann.progress: progress bars and timers."""

from __future__ import annotations

import time

import pytest

from rhtann.progress import Stopwatch, bar, timed


def test_disabled_bar_is_the_iterable_itself_enabled_bar_yields_the_same(capsys):
    items = [1, 2, 3]
    assert bar(items, "x", enabled=False) is items
    assert list(bar(iter(items), "x", total=3)) == items


def test_timed_adds_up_and_survives_errors():
    stats = {"a": 1.0}
    with timed(stats, "a"):
        time.sleep(0.01)
    assert stats["a"] >= 1.01
    with pytest.raises(ValueError), timed(stats, "b"):
        time.sleep(0.01)
        raise ValueError
    assert stats["b"] >= 0.01
    clock = Stopwatch()
    time.sleep(0.01)
    assert clock.seconds() >= 0.01
