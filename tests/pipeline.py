"""Builds a collected database the way the product does: the real simulator on loopback, the real
provider client, poller, diff and store, a manual clock stepped forward, and the nightly job at
each local day boundary. Used by the ground-truth tests and as the demo database for UI tests.

A built database is cached per parameter set for the test session (building takes a while).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from collector.buckets import local_today
from collector.clock import ManualClock
from collector.nightly import run_nightly
from collector.poller import Poller
from collector.providers import make_provider
from collector.scheduler import Scheduler
from collector.store.writer import Store
from simulator.model import Market
from simulator.server import RunningServer, start_server
from tablepulse_settings import Settings

START = datetime(2026, 11, 2, 5, 0)   # a Monday, 00:00 in New York


@dataclass
class Collected:
    db_path: Path
    market: Market
    server: RunningServer
    settings: Settings
    start: datetime
    end: datetime
    stats: dict[str, int]

    @property
    def days(self) -> list[date]:
        first = local_today(self.start, self.settings.timezone)
        last = local_today(self.end, self.settings.timezone)
        return [first + timedelta(days=i) for i in range((last - first).days)]


_cache: dict[tuple[Any, ...], Collected] = {}
_lock = threading.Lock()


def build_collected_db(tmp_dir: Path, *, venues: int = 40, days: int = 7, poll_interval_s: int = 60,
                       seed: int = 11, window_days: int = 2, time_slots: tuple[str, ...] = ("19:00",),
                       party_sizes: tuple[int, ...] = (2,), start: datetime = START,
                       hours: tuple[int, int] | None = None) -> Collected:
    """Fast-forward `days` days of a `venues`-venue market, polling every bucket every
    `poll_interval_s` simulated seconds (optionally only between local `hours` = (from, to))."""
    key = (venues, days, poll_interval_s, seed, window_days, time_slots, party_sizes, start, hours)
    with _lock:
        if key in _cache:
            return _cache[key]
        market = Market(seed, venues, start=start, speed=0)
        server = start_server(market)
        db = Path(tmp_dir) / f"collected-{abs(hash(key))}.duckdb"
        prime = [t for t in time_slots if t >= "17:00"] or [time_slots[-1]]
        s = Settings().replace(db_path=str(db), snapshot_path=str(db.with_suffix(".snapshot.duckdb")),
                               upstream_url=server.url, window_days=window_days, time_slots=list(time_slots),
                               prime_time_slots=prime, party_sizes=list(party_sizes), rate_limit_per_s=1000.0,
                               min_sample=10)
        clock = ManualClock(start)
        store = Store(db).start()
        provider = make_provider(s)
        poller = Poller(store, provider, s, clock)
        sched = Scheduler(store, poller, s, clock)
        stats = {"polls": 0, "trusted": 0, "new_drops": 0, "closed": 0, "nightly": 0}
        end = start + timedelta(days=days)
        t, day = start, local_today(start, s.timezone)
        try:
            while t <= end:
                market.advance_to(t)
                clock.set(t)
                today = local_today(t, s.timezone)
                if today != day:
                    run_nightly(store, day, s, t)
                    stats["nightly"] += 1
                    market.forget_before(day - timedelta(days=1))
                    day = today
                local_hour = (t - timedelta(hours=5)).hour
                if hours is None or hours[0] <= local_hour < hours[1]:
                    for r in sched.poll_round():
                        stats["polls"] += 1
                        stats["trusted"] += r.trusted
                        stats["new_drops"] += r.n_new_drop
                        stats["closed"] += r.n_closed
                t += timedelta(seconds=poll_interval_s)
        finally:
            sched.drain()
            provider.close()
            store.close()
        out = Collected(db, market, server, s, start, end, stats)
        _cache[key] = out
        return out


def copy_db(c: Collected, dest: Path) -> Path:
    """A private copy of a cached collected database (tests that write must not share one)."""
    shutil.copy(c.db_path, dest)
    return dest


def true_drops_by_hour(truth: Iterable[dict[str, Any]], t0: datetime, t1: datetime,
                       tz: str = "America/New_York") -> np.ndarray:
    """Per local hour of day (tz), the simulator's true cancellations (not releases) opened in
    [t0, t1) (naive UTC) for the next two slot dates: the drops a history polled hourly on those
    dates can see (a later date is polled every 12 h)."""
    zone = ZoneInfo(tz)
    out = np.zeros(24)
    for r in truth:
        if r["is_release"] or not t0 <= r["opened_at"] < t1:
            continue
        local = r["opened_at"].replace(tzinfo=UTC).astimezone(zone)
        if date.fromisoformat(r["slot_date"]) <= local.date() + timedelta(days=1):
            out[local.hour] += 1
    return out
