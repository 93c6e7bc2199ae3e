"""poll_cycle: CPU time to parse, diff and write one full bucket poll of a 5,000-venue market.

The simulator renders every page of each poll in advance; the provider client reads them through
httpx.MockTransport, so the figure is the collector's own CPU (JSON parse, validation, diff, Arrow
batch, DuckDB write in the writer thread: process_time counts every thread), not the network or
the simulator. Steady state: the bucket is baselined first, then live polls 30 s apart are timed.
The file holds what a running service's does: the open slots of the rest of the 14-day window
(55 other buckets and party sizes, as many slots each as this one), which every write to
open_slots has to find its way past.

No target here: the budget (issue 17) is relative, CPU per poll at most 1.5x the code before the
write-side rewrite, and that code cannot run in this process. It was measured as an interleaved
A/B of both versions over the same pre-rendered pages (docs/benchmarks.md).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson

from bench.common import result
from collector.buckets import BucketSpec, ensure_buckets
from collector.clock import ManualClock
from collector.poller import Poller
from collector.providers import make_provider
from collector.store.writer import Store
from simulator.api import ProviderApi
from simulator.model import Market
from tablepulse_settings import Settings

# (venues, timed polls): 20 timed polls so the median is not decided by a few samples on a shared machine
SIZES = {"small": (1000, 10), "default": (5000, 20), "large": (10000, 12)}


def render_poll(api: ProviderApi, day: str, time_slot: str, party: int) -> dict[int, bytes]:
    pages: dict[int, bytes] = {}
    page, n_pages = 1, 1
    while page <= n_pages:
        body = {"availability": True, "page": page, "per_page": 75, "types": ["venue"],
                "slot_filter": {"day": day, "party_size": party, "time_filter": time_slot}}
        status, _h, raw = api.search(body)
        assert status == 200, raw[:200]
        pages[page] = raw
        n_pages = orjson.loads(raw)["search"]["nbPages"]
        page += 1
    return pages


def fill_window(con: duckdb.DuckDBPyConnection, spec: BucketSpec, venues: int, per_bucket: int, at: datetime,
                days: int = 14) -> int:
    """Open slots of every other bucket of a `days`-day window (per_bucket each), as its calibration
    polls leave them: one bucket's rows together, buckets in date order. Returns the rows written."""
    con.execute("""
        INSERT INTO open_slots
        SELECT 'resy', i % $v, d, CAST(ts AS TIME) - INTERVAL 1 HOUR + to_minutes((i // $v)::BIGINT), p, 'Dining Room',
               strftime(d, '%Y-%m-%d') || '_' || ts, 'fill|' || b || '|' || i, 'baseline', NULL, $at, FALSE
        FROM (SELECT b, $day + (b // 4)::INTEGER AS d, CASE WHEN b % 2 = 0 THEN '15:00' ELSE '19:00' END AS ts,
                     CASE WHEN b % 4 < 2 THEN 2 ELSE 4 END AS p
              FROM range(4 * $days) t(b)) k, range($n) r(i)
        WHERE NOT (d = $day AND ts = $slot AND p = $party)
        ORDER BY b, i""", {"v": venues, "at": at, "day": spec.bucket_date, "days": days, "n": per_bucket,
                           "slot": spec.time_slot, "party": spec.party_size})
    return int(con.execute("SELECT count(*) FROM open_slots").fetchone()[0])  # type: ignore[index]


def run(size: str) -> Iterator[dict[str, Any]]:
    venues, polls = SIZES[size]
    start = datetime(2026, 11, 4, 21, 0)
    market = Market(13, venues, start=start, speed=0)
    api = ProviderApi(market)
    day = "2026-11-05"
    spec = BucketSpec(f"{day}_19:00", 2, datetime.fromisoformat(day).date(), "19:00", "prime")
    current: dict[int, bytes] = {}

    def handler(req: httpx.Request) -> httpx.Response:
        page = orjson.loads(req.content)["page"]   # the upstream's share: kept small
        return httpx.Response(200, content=current[page], headers={"content-type": "application/json"})

    with tempfile.TemporaryDirectory() as d:
        s = Settings().replace(db_path=str(Path(d) / "p.duckdb"), calibration_polls=1, rate_limit_per_s=1000.0,
                               upstream_url="http://sim.invalid")
        store = Store(s.db_path).start()
        clock = ManualClock(start)
        store.write(lambda c: ensure_buckets(c, spec.bucket_date, start, s.replace(window_days=1)))
        provider = make_provider(s, transport=httpx.MockTransport(handler))
        poller = Poller(store, provider, s, clock)
        cpu, wall, slots, transitions = [], [], [], []
        for i in range(polls + 1):
            t = start + timedelta(seconds=30 * i)
            market.advance_to(t)
            clock.set(t)
            current.clear()
            current.update(render_poll(api, day, "19:00", 2))
            c0, w0 = time.process_time(), time.perf_counter()
            summary = poller.poll(spec)
            c1, w1 = time.process_time(), time.perf_counter()
            assert summary.trusted, summary
            if i == 0:   # the first poll is the calibration (baseline), untimed; then the rest of the window
                in_file = store.write(partial(fill_window, spec=spec, venues=venues, per_bucket=summary.slots_seen,
                                              at=start))
            else:
                cpu.append((c1 - c0) * 1000)
                wall.append((w1 - w0) * 1000)
                slots.append(summary.slots_seen)
                transitions.append(summary.n_new_drop + summary.n_closed + summary.n_expired)
        provider.close()
        store.close()
    pages = len(current)
    yield result("poll_cycle", f"cpu_ms_per_full_bucket_poll[{venues} venues, {pages} pages, "
                 f"~{int(statistics.median(slots))} slots, ~{int(statistics.median(transitions))} transitions, "
                 f"{in_file} open slots in the file]",
                 statistics.median(cpu), "ms")
    yield result("poll_cycle", "wall_ms_per_full_bucket_poll", statistics.median(wall), "ms")
