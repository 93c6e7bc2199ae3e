"""Injected clocks: logic never calls now() itself; it is handed a Clock.

SystemClock is wall time (UTC). ManualClock is set by whoever drives time (tests, the history
builder that fast-forwards the simulator). All instants are naive UTC datetimes.
"""

from __future__ import annotations

import threading
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
    """Virtual time running `speed` times faster than wall time from an anchor (a simulator's clock)."""

    def __init__(self, virtual_anchor: datetime, speed: float, wall: Clock | None = None) -> None:
        self._wall = wall or SystemClock()
        self._real_anchor = self._wall.now()
        self._virtual_anchor = virtual_anchor
        self.speed = speed

    def now(self) -> datetime:
        return self._virtual_anchor + (self._wall.now() - self._real_anchor) * self.speed
