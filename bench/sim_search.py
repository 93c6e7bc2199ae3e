"""Benchmark of the bundled market (simulator/): a full bucket poll and fast-forward speed, 1,000 venues.

Rows: full_bucket_poll_ms (every page of a prime bucket over loopback HTTP with httpx, per_page 75, the
server in its own process as `python -m simulator serve` runs it; the clock moves 60 s between polls so
each poll re-simulates), full_bucket_poll_server_ms (the server-side work of that poll in-process;
baseline: the same poll with the page snapshot cache off, i.e. every page re-simulated and re-collected),
sim_days_per_wall_s (advance a simulated day while every bucket of the 14-day x {15:00, 19:00} x {2, 4}
window is simulated to the instant every 15 simulated minutes: the work the truth needs), and
sim_days_per_wall_s_polled (the same day with every page of every bucket rendered each simulated hour).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx

from bench.common import result
from simulator.api import ProviderApi
from simulator.model import Market
from simulator.server import DEFAULT_API_KEY

START = datetime(2026, 11, 23, 17, 0)
VENUES = 1000
SIZES = {"small": {"polls": 5, "ff_hours": 3, "polled_hours": 2},
         "default": {"polls": 25, "ff_hours": 24, "polled_hours": 6},
         "large": {"polls": 60, "ff_hours": 48, "polled_hours": 24}}
DAY = "2026-11-25"
BUCKETS = [((START + timedelta(days=i)).date().isoformat(), tf, p)
           for i in range(14) for tf in ("15:00", "19:00") for p in (2, 4)]


def _body(day: str, tf: str, party: int, page: int) -> dict[str, Any]:
    return {"availability": True, "page": page, "per_page": 75,
            "slot_filter": {"day": day, "party_size": party, "time_filter": tf}, "types": ["venue"],
            "order_by": "availability", "geo": {"latitude": 40.7128, "longitude": -74.006, "radius": 35420},
            "query": ""}


def _poll_http(c: httpx.Client) -> int:
    page, hits = 1, 0
    while True:
        r = c.post("/3/venuesearch/search", json=_body(DAY, "19:00", 2, page))
        r.raise_for_status()
        s = r.json()["search"]
        hits += len(s["hits"])
        if page >= s["nbPages"]:
            return hits
        page += 1


def _poll_inproc(api: ProviderApi, day: str, tf: str, party: int) -> int:
    page, n = 1, 0
    while True:
        st, _, raw = api.search(_body(day, tf, party, page))
        n += len(raw)
        if st != 200:
            raise RuntimeError(raw)
        if page >= _nb_pages(raw):
            return n
        page += 1


def _nb_pages(raw: bytes) -> int:
    i = raw.rindex(b'"nbPages":') + 10
    return int(raw[i:raw.index(b",", i)])


def bench_http(polls: int) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "simulator", "serve", "--port", "0", "--speed", "0", "--seed", "7",
           "--venues", str(VENUES), "--start", START.isoformat()]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        with httpx.Client(base_url=url, headers={"Authorization": f'ResyAPI api_key="{DEFAULT_API_KEY}"'},
                          timeout=30) as c:
            hits = _poll_http(c)  # first poll catches the slots up from their release: not timed
            times = []
            for _ in range(polls):
                c.post("/_sim/advance", json={"seconds": 60}).raise_for_status()
                t0 = time.perf_counter()
                hits = _poll_http(c)
                times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e3, hits
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def bench_server(polls: int, cached: bool) -> float:
    m = Market(7, n_venues=VENUES, start=START)
    api = ProviderApi(m, cache_snapshots=cached)
    _poll_inproc(api, DAY, "19:00", 2)
    times = []
    for _ in range(polls):
        m.advance(60)
        t0 = time.perf_counter()
        _poll_inproc(api, DAY, "19:00", 2)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def bench_fast_forward(hours: int, polled: bool) -> float:
    m = Market(7, n_venues=VENUES, start=START)
    api = ProviderApi(m)
    days = sorted({(START + timedelta(days=i)).date() for i in range(14)})
    m.materialize(days)  # catch-up from release is a one-off, not fast-forward speed
    step = 3600 if polled else 900
    t0 = time.perf_counter()
    for _ in range(hours * 3600 // step):
        m.advance(step)
        if polled:
            for day, tf, party in BUCKETS:
                _poll_inproc(api, day, tf, party)
        else:
            m.materialize(days)
    wall = time.perf_counter() - t0
    return (hours / 24) / wall


def run(size: str) -> Iterable[dict[str, Any]]:
    cfg = SIZES[size]
    http_ms, hits = bench_http(cfg["polls"])
    yield result("sim_search", "full_bucket_poll_ms", http_ms, "ms", target=100.0)
    cached = bench_server(cfg["polls"], True)
    uncached = bench_server(cfg["polls"], False)
    yield result("sim_search", "full_bucket_poll_server_ms", cached, "ms", baseline=uncached)
    yield result("sim_search", "sim_days_per_wall_s", bench_fast_forward(cfg["ff_hours"], False), "sim days/s",
                 target=0.1, higher_is_better=True)
    yield result("sim_search", "sim_days_per_wall_s_polled", bench_fast_forward(cfg["polled_hours"], True),
                 "sim days/s", higher_is_better=True)
