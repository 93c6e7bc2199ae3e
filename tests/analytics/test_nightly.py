"""Nightly metrics on hand-built databases with answers worked out by hand (see the comments)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics import nightly as an
from analytics.db import connect
from analytics.scores import SCARCITY_FORMULA
from collector.store.migrate import migrate
from tests.analytics import turnbull_oracle as oracle

D = date(2026, 11, 10)
BUCKET = "2026-11-15_19:00"
T = datetime(2026, 11, 10)


def at(h: int, m: int = 0, day: int = 0) -> datetime:
    return T + timedelta(days=day, hours=h, minutes=m)


def _poll(con: duckdb.DuckDBPyConnection, bucket: str, t: datetime, trusted: bool = True) -> None:
    """One live poll of (bucket, party size 2) started and finished at t, in the ledger."""
    con.execute("INSERT INTO poll_ledger (poll_id, provider, bucket_id, party_size, started_at, finished_at, phase, "
                "trusted, outcome) VALUES ($id, 'resy', $b, 2, $t, $t, 'live', $ok, $o)",
                {"id": f"{bucket}|{t.isoformat()}|{trusted}", "b": bucket, "t": t, "ok": trusted,
                 "o": "ok" if trusted else "server_error"})


def _polls_only(tmp_path: Path, name: str, polls: dict[str, list[datetime]]) -> duckdb.DuckDBPyConnection:
    con = connect(tmp_path / name)
    migrate(con)
    for b, times in polls.items():
        for t in times:
            _poll(con, b, t)
    return con


def _db(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = connect(tmp_path / "t.duckdb")
    migrate(con)
    for vid in (1, 2):
        con.execute("INSERT INTO venues VALUES ('resy', $v, $n, 'SoHo', 3, 'Italian', 'UTC', 0, 0, $t, $t)",
                    {"v": vid, "n": f"V{vid}", "t": at(0, 0, -30)})
    # trusted polls of (BUCKET, 2) every 10 min on D and D+1 (+ 00:00 of D+2); one failed poll at
    # 12:05 on D; on D+1 an outage 08:10-12:00 (every poll untrusted).
    rows = []
    for day in (0, 1):
        for k in range(144):
            t = at(0, 0, day) + timedelta(minutes=10 * k)
            outage = day == 1 and at(8, 10, 1) <= t <= at(12, 0, 1)
            rows.append((t, not outage))
    rows.append((at(0, 0, 2), True))
    rows.append((at(12, 5), False))
    for t, ok in rows:
        _poll(con, BUCKET, t, ok)

    def iv(vid: int, src: str, rel: bool, o_hi: datetime, c_lo: datetime, c_hi: datetime, reason: str) -> None:
        con.execute("INSERT INTO slot_intervals VALUES ($id, 'resy', $v, DATE '2026-11-15', TIME '19:00', 2, 'Bar', $b, "
                    "'prime', $src, $rel, $olo, $ohi, $clo, $chi, $r, $dur, $ohi, $chi)",
                    {"id": f"{vid}|{o_hi.isoformat()}", "v": vid, "b": BUCKET, "src": src, "rel": rel,
                     "olo": None if src == "baseline" else o_hi - timedelta(minutes=10), "ohi": o_hi, "clo": c_lo,
                     "chi": c_hi, "r": reason, "dur": (c_hi - o_hi).total_seconds()})
    # venue 1: A 01:00-01:30 closed at 01:40 (2400 s), B 12:00-12:10 closed 12:20 (1200 s),
    # C release 20:00 closed 20:10 (600 s), D 22:00-23:00 expired at 23:10 (censored at 3600 s)
    iv(1, "drop", False, at(1), at(1, 30), at(1, 40), "closed")
    iv(1, "drop", False, at(12), at(12, 10), at(12, 20), "closed")
    iv(1, "drop", True, at(20), at(20), at(20, 10), "closed")
    iv(1, "drop", False, at(22), at(23), at(23, 10), "expired")
    # venue 2: a baseline slot 00:00-00:20 booked at 00:30 (counts in `closed`, not in durations)
    iv(2, "baseline", False, at(0), at(0, 20), at(0, 30), "closed")
    return con


def _agg(con: duckdb.DuckDBPyConnection, day: date, min_sample: int = 3) -> dict:
    con.execute("BEGIN")
    r = an.aggregate_day(con, day, tz="UTC", min_sample=min_sample, today=day + timedelta(days=1))
    con.execute("COMMIT")
    return r


def _row(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> dict:
    cur = con.execute(sql, params or {})
    cols = [d[0] for d in cur.description]
    r = cur.fetchone()
    assert r is not None, sql
    return dict(zip(cols, r, strict=True))


def test_venue_daily_counts_durations_and_fully_booked_by_hand(tmp_path: Path) -> None:
    con = _db(tmp_path)
    _agg(con, D)
    v1 = _row(con, "SELECT * FROM venue_daily WHERE venue_id = 1 AND metric_date = $d", {"d": D})
    assert (v1["drops"], v1["release_drops"], v1["cancel_drops"]) == (4, 1, 3)
    assert (v1["closed"], v1["closed_timed"], v1["censored"]) == (3, 3, 1)
    assert v1["median_close_s"] == pytest.approx(1200.0)
    assert v1["mean_close_s"] == pytest.approx((2400 + 1200 + 600) / 3)
    # 144 gaps of 600 s on D, minus the 12:00-12:10 gap (an untrusted poll inside it)
    assert v1["observed_s"] == pytest.approx(143 * 600)
    # open at polls 01:00-01:30 (4 gaps), 12:10 (12:00's gap is excluded), 20:00, 22:00-23:00 (7)
    assert v1["open_s"] == pytest.approx((4 + 1 + 1 + 7) * 600)
    assert v1["fully_booked_s"] == pytest.approx(143 * 600 - 13 * 600)
    assert v1["n"] == 3 and v1["thin"] is False
    v2 = _row(con, "SELECT * FROM venue_daily WHERE venue_id = 2 AND metric_date = $d", {"d": D})
    assert (v2["drops"], v2["closed"], v2["closed_timed"], v2["censored"]) == (0, 1, 0, 0)
    assert v2["open_s"] == pytest.approx(3 * 600)           # baseline slot open at 00:00, 00:10, 00:20
    assert v2["median_close_s"] is None and v2["thin"] is True
    assert (v1["polls_trusted"], v1["polls_untrusted"]) == (144, 1)
    md = con.execute("SELECT hour_local, drops, release_drops FROM market_daily WHERE metric_date = $d ORDER BY 1",
                     {"d": D}).fetchall()
    assert md == [(1, 1, 0), (12, 1, 0), (20, 1, 1), (22, 1, 0)]


def test_outage_day_is_partial_not_quiet(tmp_path: Path) -> None:
    con = _db(tmp_path)
    _agg(con, D)
    _agg(con, D + timedelta(days=1))
    q = dict(con.execute("SELECT metric_date, partial FROM day_quality").fetchall())
    assert q == {D: False, D + timedelta(days=1): True}
    assert con.execute("SELECT bool_and(partial) FROM venue_daily WHERE metric_date = $d",
                       {"d": D + timedelta(days=1)}).fetchone()[0] is True
    dq = _row(con, "SELECT * FROM day_quality WHERE metric_date = $d", {"d": D + timedelta(days=1)})
    # the 08:00 -> 12:10 gap spans the outage: excluded, not observed
    assert dq["excluded_s"] == pytest.approx(250 * 60)
    assert dq["polls_untrusted"] == 24         # 08:10, 08:20, ..., 12:00
    assert dq["median_gap_s"] == 600           # the excluded gap is no observed gap


def test_median_gap_is_the_median_of_the_observed_gaps(tmp_path: Path) -> None:
    # trusted polls at 23:00:00 + s
    con = _polls_only(tmp_path, "g.duckdb", {BUCKET: [at(23) + timedelta(seconds=s) for s in (0, 60, 180, 600, 1200)]})
    _agg(con, D)
    # gaps 60, 120, 420 and 600 s, and 23:20 -> midnight (2400 s: short enough to be observed time)
    assert _row(con, "SELECT median_gap_s, observed_s FROM day_quality") == {"median_gap_s": 420, "observed_s": 3600}


def _bin(x: float) -> int:
    return 0 if x < 1 else min(141, math.floor(20 * math.log10(x)) + 1)


def test_rolling_km_median_ci_thin_and_ranking(tmp_path: Path) -> None:
    con = _db(tmp_path)
    _agg(con, D)
    r = _row(con, "SELECT * FROM venue_rolling WHERE venue_id = 1 AND as_of = $d AND window_days = 7 "
                  "AND time_bucket = 'prime'", {"d": D})
    # venue 1's bounds, polls 10 min apart: A in [1800, 3000] s, B [600, 1800], C [0, 1200], D at least 3600
    mass = oracle.fit([(_bin(1800), _bin(3000), 1), (_bin(600), _bin(1800), 1), (_bin(0), _bin(1200), 1),
                       (_bin(3600), oracle.LAST_BIN, 1)])
    half = 1.96 * math.sqrt(0.25 / 4)
    assert r["km_median_s"] == pytest.approx(oracle.quantile(mass, 0.5), rel=1e-3)
    assert 1800 <= r["km_median_s"] <= 10 ** (66 / 20)     # between B's upper and A's lower bound
    assert r["km_median_lo_s"] == pytest.approx(oracle.quantile(mass, 0.5 - half), rel=1e-3)
    assert r["km_median_hi_s"] == pytest.approx(oracle.quantile(mass, 0.5 + half), rel=1e-3)
    # four intervals 10-20 minutes wide cannot place a median of half an hour to +-12.5%: shown as a
    # bound, the median of the upper ends (C's 1200 s, B's 1800 s, in their bins' ends)
    assert r["km_median_bound_s"] == pytest.approx(10 ** (_bin(1800) / 20))
    assert r["n"] == 4 and r["thin"] is False and r["scarcity_rank"] == 1
    assert r["fully_booked_share"] == pytest.approx(130 / 143)
    assert r["drops_per_day"] == pytest.approx(4.0) and r["release_share"] == pytest.approx(0.25)
    v2 = _row(con, "SELECT * FROM venue_rolling WHERE venue_id = 2 AND as_of = $d AND window_days = 7 "
                   "AND time_bucket = 'prime'", {"d": D})
    assert v2["thin"] is True and v2["scarcity_score"] is None and v2["scarcity_rank"] is None
    # with a higher minimum sample venue 1 is thin too and nothing is ranked
    _agg(con, D, min_sample=5)
    assert con.execute("SELECT count(scarcity_rank) FROM venue_rolling").fetchone()[0] == 0
    assert "percentile" in SCARCITY_FORMULA


METRIC_TABLES = an.DAILY_TABLES + an.ROLLING_TABLES


def _snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    out = {}
    for t in METRIC_TABLES:
        rows = con.execute(f"SELECT * FROM {t}").fetchall()  # noqa: S608 (fixed names)
        out[t] = sorted((tuple(round(x, 6) if isinstance(x, float) else x for x in r) for r in rows), key=repr)
    return out


def test_rerunning_a_day_leaves_identical_tables(tmp_path: Path) -> None:
    con = _db(tmp_path)
    _agg(con, D)
    _agg(con, D + timedelta(days=1))
    first = _snapshot(con)
    _agg(con, D)
    _agg(con, D + timedelta(days=1))
    assert _snapshot(con) == first
    assert all(first[t] for t in ("day_quality", "venue_daily", "venue_daily_hist", "venue_rolling"))


def test_prune_only_removes_events_of_aggregated_days(tmp_path: Path) -> None:
    con = _db(tmp_path)
    ev = "INSERT INTO availability_events VALUES ($id, 'NEW_DROP', 'resy', 1, DATE '2026-11-15', TIME '19:00', 2, " \
         "'Bar', $b, $bd, 'prime', 'i', $t, $t, NULL, NULL, FALSE, 'p')"
    con.execute(ev, {"id": "a", "b": BUCKET, "bd": date(2026, 11, 9), "t": at(1)})           # day D, old bucket
    con.execute(ev, {"id": "b", "b": BUCKET, "bd": date(2026, 11, 9), "t": at(1, 0, 1)})     # day D+1, old bucket
    con.execute(ev, {"id": "c", "b": BUCKET, "bd": date(2026, 11, 20), "t": at(2)})          # day D, kept bucket
    assert an.days_pending_prune(con, date(2026, 11, 12), "UTC") == [D, D + timedelta(days=1)]
    _agg(con, D)
    before_iv = con.execute("SELECT * FROM slot_intervals ORDER BY interval_id").fetchall()
    before_vd = _snapshot(con)
    assert an.prune_raw(con, date(2026, 11, 12)) == 1
    left = {r[0] for r in con.execute("SELECT event_id FROM availability_events").fetchall()}
    assert left == {"b", "c"}                 # D+1 is not aggregated yet; c's bucket is not old
    assert an.days_pending_prune(con, date(2026, 11, 12), "UTC") == [D + timedelta(days=1)]
    assert con.execute("SELECT * FROM slot_intervals ORDER BY interval_id").fetchall() == before_iv
    assert _snapshot(con) == before_vd


GRAIN = {  # migration 0005 dropped these tables' PRIMARY KEY: the job itself must keep the grain unique
    "venue_daily": "provider, venue_id, metric_date, time_bucket, party_size",
    "venue_daily_hist": "provider, venue_id, metric_date, time_bucket, party_size, bin",
    "market_daily": "metric_date, hour_local, neighborhood, price_range, time_bucket, party_size",
    "venue_hourly": "provider, venue_id, metric_date, hour_local",
    "venue_rolling": "provider, venue_id, as_of, window_days, time_bucket",
    "venue_rolling_party": "provider, venue_id, as_of, window_days, time_bucket, party_size",
}


def test_metric_tables_keep_their_grain_unique(tmp_path: Path) -> None:
    con = _db(tmp_path)
    for _ in range(2):                       # re-runs replace, never duplicate
        _agg(con, D)
        _agg(con, D + timedelta(days=1))
    con.execute("BEGIN")
    an.recompute(con, tz="UTC", min_sample=3, today=D + timedelta(days=2))
    con.execute("COMMIT")
    for t, cols in GRAIN.items():
        n, distinct = con.execute(f"SELECT count(*), count(DISTINCT ({cols})) FROM {t}").fetchone()  # noqa: S608
        assert n > 0 and n == distinct, t


def test_recompute_in_rolling_chunks_equals_one_pass(tmp_path: Path) -> None:
    """Rolling tables rebuilt one as_of at a time (each through the one-day path, whose windows
    DuckDB sums) equal one sliding pass over both days, and so do the per-day tables."""
    con = _db(tmp_path)
    snaps = []
    for rolling_chunk_days in (14, 1):
        con.execute("BEGIN")
        out = an.recompute(con, tz="UTC", min_sample=3, today=D + timedelta(days=2),
                           rolling_chunk_days=rolling_chunk_days)
        con.execute("COMMIT")
        assert out["days"] == 2
        snaps.append(_snapshot(con))
    assert snaps[0] == snaps[1]
    assert len({r[2] for r in snaps[0]["venue_rolling"]}) == 2     # both as_of days have rows


def test_a_bucket_polled_rarely_by_schedule_is_not_an_outage_but_no_polling_at_all_is(tmp_path: Path) -> None:
    """One bucket every 10 min all day, another at 00:00 and 12:00 only (the history builder's far
    buckets): the 12-hour gap is excluded from observed time, yet the day is not partial. The same
    day with no poll of either bucket from 08:00 to 11:00 (the collector down) is partial."""
    every10 = [at(0) + timedelta(minutes=10 * k) for k in range(144)]
    far = "2026-11-20_19:00"
    con = _polls_only(tmp_path, "a.duckdb", {BUCKET: every10, far: [at(0), at(12)]})
    _agg(con, D)
    q = _row(con, "SELECT partial, excluded_s FROM day_quality")
    assert q == {"partial": False, "excluded_s": 12 * 3600.0}   # 00:00 -> 12:00 (12:00 -> midnight: not watched)
    # a failed poll of the rare bucket inside its 12-hour gap costs at most max_gap_s of watched time
    _poll(con, far, at(6), trusted=False)
    _agg(con, D)
    assert _row(con, "SELECT partial, excluded_s FROM day_quality") == q
    down = [t for t in every10 if not at(8) < t < at(11)]
    con2 = _polls_only(tmp_path, "b.duckdb", {BUCKET: down, far: [at(0), at(12)]})
    _agg(con2, D)
    assert _row(con2, "SELECT partial FROM day_quality") == {"partial": True}


def test_venue_hourly_counts_drops_by_local_hour_and_the_migration_fills_aggregated_days(tmp_path: Path) -> None:
    """venue_hourly (Venue detail's heatmap) holds each NEW_DROP on its day and local hour; migration
    0012 fills the days aggregated before it with the rows the nightly job writes."""
    con = _db(tmp_path)
    _agg(con, D)
    rows = con.execute("SELECT venue_id, metric_date, hour_local, drops FROM venue_hourly ORDER BY ALL").fetchall()
    # venue 1's four drops first seen at 01:00, 12:00, 20:00, 22:00 UTC (a UTC venue); the baseline
    # slot of venue 2 is no drop
    assert rows == [(1, D, h, 1) for h in (1, 12, 20, 22)]
    con.execute("DROP TABLE venue_hourly")
    con.execute("DELETE FROM schema_migrations WHERE name = '0012_venue_hourly'")
    assert migrate(con) == ["0012_venue_hourly"]
    assert con.execute("SELECT venue_id, metric_date, hour_local, drops FROM venue_hourly ORDER BY ALL").fetchall() == rows
