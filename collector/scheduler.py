"""Decides which bucket polls run when: per-bucket cooldown, at most N in flight, nearest first.

`Scheduler.tick()` is driven by `schedule` every second in the service; the history builder calls
`poll_round()` directly with a manual clock. Neither talks to DuckDB except through the Poller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import date, datetime, timedelta

from collector.buckets import BucketSpec, bucket_window_over, ensure_buckets, load_specs, local_today
from collector.clock import Clock
from collector.poller import Poller, PollSummary
from collector.store.writer import Store
from tablepulse_settings import Settings

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, store: Store, poller: Poller, settings: Settings, clock: Clock) -> None:
        self.store, self.poller, self.settings, self.clock = store, poller, settings, clock
        self.pool = ThreadPoolExecutor(max_workers=settings.max_in_flight, thread_name_prefix="poll")
        self._in_flight: dict[tuple[str, int], Future[PollSummary]] = {}
        self._last_start: dict[tuple[str, int], datetime] = {}
        self._specs: list[BucketSpec] = []
        self._day: date | None = None
        self._lock = threading.Lock()
        self.errors = 0

    def refresh(self) -> None:
        """(Re)load the bucket list for the current local day, creating missing buckets."""
        now = self.clock.now()
        today = local_today(now, self.settings.timezone)
        self.store.write(lambda c: ensure_buckets(c, today, now, self.settings))
        with self.store.cursor() as cur:
            specs = load_specs(cur, today)
            last = cur.execute("SELECT bucket_id, party_size, last_poll_at FROM buckets "
                               "WHERE last_poll_at IS NOT NULL").fetchall()
        wanted = {(s.bucket_id, s.party_size) for s in _window(specs, today, self.settings)}
        with self._lock:
            self._specs = [s for s in specs if (s.bucket_id, s.party_size) in wanted]
            self._day = today
            for b, p, t in last:
                self._last_start.setdefault((b, int(p)), t)

    def due(self) -> list[BucketSpec]:
        now = self.clock.now()
        if local_today(now, self.settings.timezone) != self._day:
            self.refresh()
        cooldown = timedelta(seconds=self.settings.bucket_cooldown_s)
        out = []
        with self._lock:
            for s in self._specs:
                k = (s.bucket_id, s.party_size)
                if k in self._in_flight or bucket_window_over(s, now, self.settings.timezone):
                    continue
                last = self._last_start.get(k)
                if last is None or now - last >= cooldown:
                    out.append(s)
        # never-polled (calibrating) first, then the longest waiting
        out.sort(key=lambda s: self._last_start.get((s.bucket_id, s.party_size), datetime.min))
        return out

    def tick(self) -> int:
        """Start every due poll that fits under max_in_flight; returns how many were started."""
        self._reap()
        started = 0
        for spec in self.due():
            with self._lock:
                if len(self._in_flight) >= self.settings.max_in_flight:
                    break
                k = (spec.bucket_id, spec.party_size)
                self._last_start[k] = self.clock.now()
                self._in_flight[k] = self.pool.submit(self.poller.poll, spec)
            started += 1
        return started

    def poll_round(self, keep: Callable[[BucketSpec], bool] | None = None) -> list[PollSummary]:
        """Poll every watched bucket once (or those `keep` selects), one commit for the round
        (fast-forward history and tests); waits for all of them."""
        if self._day != local_today(self.clock.now(), self.settings.timezone):
            self.refresh()
        now = self.clock.now()
        specs = [s for s in self._specs if not bucket_window_over(s, now, self.settings.timezone)
                 and (keep is None or keep(s))]
        return self.poller.poll_many(specs, self.pool)

    def _reap(self) -> None:
        with self._lock:
            done = [k for k, f in self._in_flight.items() if f.done()]
            for k in done:
                f = self._in_flight.pop(k)
                if f.exception() is not None:
                    self.errors += 1
                    log.error("poll %s failed: %s", k, f.exception())

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for in-flight polls (clean stop finishes the in-flight writes)."""
        with self._lock:
            futs = list(self._in_flight.values())
        wait(futs, timeout=timeout)
        self.pool.shutdown(wait=True, cancel_futures=True)


def _window(specs: list[BucketSpec], today: date, settings: Settings) -> list[BucketSpec]:
    end = today + timedelta(days=settings.window_days)
    return [s for s in specs if today <= s.bucket_date < end and s.time_slot in settings.time_slots
            and s.party_size in settings.party_sizes]
