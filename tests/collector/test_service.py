"""The collector service's own duties: the nightly trigger (once per day, catching up missed
nights), the health report, and a clean stop that closes the file."""

from datetime import date, datetime

import duckdb

from collector.clock import ManualClock
from collector.nightly import mark_nightly
from collector.service import Service
from simulator.model import Market
from simulator.server import start_server
from tablepulse_settings import Settings

START = datetime(2026, 11, 3, 20, 0)   # 15:00 in New York


def test_nightly_runs_once_per_day_and_catches_up_missed_nights(tmp_path):
    market = Market(2, 10, start=START, speed=0)
    server = start_server(market)
    s = Settings().replace(db_path=str(tmp_path / "s.duckdb"), snapshot_path=str(tmp_path / "snap.duckdb"),
                           upstream_url=server.url, window_days=1, time_slots=["19:00"], prime_time_slots=["19:00"],
                           party_sizes=[2], rate_limit_per_s=1000.0, nightly_at="04:00")
    clock = ManualClock(START)
    svc = Service(s, clock=clock, serve_http=False)
    svc.store.start()
    try:
        svc.scheduler.refresh()
        svc.scheduler.poll_round()
        mark_nightly(svc.store, date(2026, 11, 2))
        clock.set(datetime(2026, 11, 6, 8, 0))          # 03:00 local on Nov 6: before nightly_at
        svc._maybe_nightly()
        assert svc.last_nightly == {}
        clock.set(datetime(2026, 11, 6, 9, 30))         # 04:30 local: Nov 3, 4 and 5 are due
        svc._maybe_nightly()
        svc._maybe_nightly()                            # a second check the same day does nothing
        with svc.store.cursor() as cur:
            days = [r[0] for r in cur.execute("SELECT day FROM nightly_runs WHERE kind = 'nightly' ORDER BY day").fetchall()]
            last = cur.execute("SELECT value FROM service_state WHERE key = 'nightly_last_day'").fetchall()[0][0]
        assert days == [date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 5)]
        assert last == "2026-11-05"
        h = svc.health()
        assert h["polls_last_hour"] == 0 and h["provider"]["breaker_state"] == "closed"
        assert {"untrusted_by_reason", "writer_queue", "last_trusted_poll", "buckets"} <= set(h)
    finally:
        svc.stop()
        server.stop()
    con = duckdb.connect(s.db_path)   # stop() closed the file: it opens read-write again
    assert con.execute("SELECT count(*) FROM poll_ledger").fetchall()[0][0] >= 1
    con.close()
    snap = duckdb.connect(s.snapshot_path, read_only=True)   # and published a final snapshot
    assert snap.execute("SELECT count(*) FROM nightly_runs").fetchall()[0][0] >= 3
    snap.close()
