"""Injected clocks: logic never calls now() itself; it is handed a Clock.

SystemClock is wall time (UTC). ManualClock is set by whoever drives time (tests, the history
builder that fast-forwards the simulator). All instants are naive UTC datetimes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self._t = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._t

    def set(self, t: datetime) -> None:
        with self._lock:
            self._t = t

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._t += timedelta(seconds=seconds)
            return self._t


class ScaledClock:
    """Virtual time running `speed` times faster than real time from an anchor (a simulator's clock).

    Elapsed time is read from a monotonic counter, as the simulator's own clock does: a step of the
    wall clock (NTP, a VM's clock sync) would otherwise move this clock against the simulator's by
    speed times the step (a 20 s step at 30x: 10 virtual minutes), and stamp polls with instants
    the simulator had not reached."""

    def __init__(self, virtual_anchor: datetime, speed: float,
                 elapsed: Callable[[], float] = time.monotonic) -> None:
        self._elapsed = elapsed
        self._real_anchor = elapsed()
        self._virtual_anchor = virtual_anchor
        self.speed = speed

    def now(self) -> datetime:
        return self._virtual_anchor + timedelta(seconds=(self._elapsed() - self._real_anchor) * self.speed)
