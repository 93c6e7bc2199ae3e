"""Shared pieces of the provider client tests: the recorded-shape payload and a fake clock."""

import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path

FIXTURE = json.loads((Path(__file__).parent / "fixtures_provider" / "venuesearch_one_page.json").read_text())
DAY = date(2026, 11, 25)
WALL = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, s: float) -> None:
        with self._lock:
            self.sleeps.append(s)
            self.t += s
