"""The scaled clock that follows the simulator: virtual time = anchor + speed x elapsed real time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from collector import clock as clock_mod
from collector.clock import ScaledClock

ANCHOR = datetime(2026, 11, 3, 21, 0)


def test_scaled_clock_runs_speed_times_elapsed_time() -> None:
    t = [500.0]
    c = ScaledClock(ANCHOR, 30.0, elapsed=lambda: t[0])
    assert c.now() == ANCHOR
    t[0] += 2.5
    assert c.now() == ANCHOR + timedelta(seconds=75)


def test_a_wall_clock_step_does_not_move_the_scaled_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator counts elapsed time on a monotonic clock; a wall-clock step (NTP, a VM's clock
    sync) must not move the collector's copy, or polls are stamped minutes ahead of the market."""
    c = ScaledClock(ANCHOR, 30.0)
    before = c.now()
    monkeypatch.setattr(clock_mod, "utcnow", lambda: datetime(2030, 1, 1))   # the wall jumps years ahead
    after = c.now()
    assert timedelta(0) <= after - before < timedelta(seconds=30)           # well under a wall second elapsed
