"""A small, deterministic demo database in the core schema for the dashboard's AppTests.

Built with numpy/pandas and bulk-inserted (no row-by-row writes). 14 venue-local days of finished
slot intervals, their raw events, open slots at the end, buckets, a poll ledger with some errors,
and the service state. Expected values in tests come from SQL on this file, never from here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from collector.store.migrate import migrate

AS_OF = datetime(2026, 11, 14, 23, 0, 0)           # UTC; 18:00 in New York
FIRST_DAY = date(2026, 11, 1)
LAST_DAY = date(2026, 11, 14)
UTC_OFFSET = timedelta(hours=-5)                    # America/New_York in November
HOODS = ["West Village", "SoHo", "Williamsburg", "Tribeca", "East Village"]


def empty_db(path: Path) -> Path:
    con = duckdb.connect(str(path))
    migrate(con)
    con.close()
    return path


def build(path: Path, venues: int = 30, seed: int = 5) -> Path:
    rng = np.random.default_rng(seed)
    con = duckdb.connect(str(path))
    migrate(con)
    vid = np.arange(1, venues + 1)
    hot = rng.uniform(0, 1, venues)                 # 1 = hardest
    v = pd.DataFrame({
        "provider": "resy", "venue_id": vid, "name": [f"Venue {i:02d}" for i in vid],
        "neighborhood": [HOODS[i % len(HOODS)] if i % 11 else None for i in vid],
        "price_range": (vid % 4) + 1, "cuisine": "Italian", "tz": "America/New_York",
        "lat": 40.7, "lon": -74.0,
        "first_seen_at": datetime(2026, 10, 31), "last_seen_at": AS_OF})
    con.execute("INSERT INTO venues SELECT * FROM v")

    rows = []
    n_days = (LAST_DAY - FIRST_DAY).days + 1
    for i, venue in enumerate(vid):
        rate = 1 + 12 * (1 - hot[i])               # drops per day
        mean_s = 60 + 5000 * (1 - hot[i]) ** 2
        for d in range(n_days):
            day = FIRST_DAY + timedelta(days=d)
            for _ in range(rng.poisson(rate)):
                local = datetime.combine(day, datetime.min.time()) + timedelta(seconds=int(rng.uniform(8, 23.5) * 3600))
                opened_hi = local - UTC_OFFSET
                if opened_hi >= AS_OF - timedelta(minutes=30):
                    continue
                prime = rng.uniform() < 0.55
                party = int(rng.choice([2, 4]))
                slot_date = day + timedelta(days=int(rng.integers(0, 14)))
                slot_time = "19:00:00" if prime else "15:00:00"
                dur = float(max(30.0, np.round(rng.exponential(mean_s) / 30) * 30))
                r = rng.uniform()
                end = "closed" if r < 0.85 else ("expired" if r < 0.95 else "censored")
                closed_lo = opened_hi + timedelta(seconds=dur - 30)
                closed_hi = opened_hi + timedelta(seconds=dur) if end != "censored" else None
                iid = f"resy|{venue}|{slot_date}|{slot_time}|{party}|std|{opened_hi.isoformat()}"
                rows.append({
                    "interval_id": iid, "provider": "resy", "venue_id": int(venue), "slot_date": slot_date,
                    "slot_time": slot_time, "party_size": party, "table_type": "std",
                    "bucket_id": f"{slot_date}_{slot_time[:5]}", "time_bucket": "prime" if prime else "off_peak",
                    "source": "drop", "is_release": bool(rng.uniform() < 0.2),
                    "opened_lo": opened_hi - timedelta(seconds=30), "opened_hi": opened_hi,
                    "closed_lo": closed_lo, "closed_hi": closed_hi, "end_reason": end,
                    "duration_s": dur if end == "closed" else None, "opened_local": local})
    si = pd.DataFrame(rows)
    si = si.drop_duplicates("interval_id")
    con.execute("INSERT INTO slot_intervals SELECT * FROM si")
    con.execute("""
        INSERT INTO availability_events
        SELECT interval_id || '|NEW_DROP', 'NEW_DROP', provider, venue_id, slot_date, slot_time, party_size,
               table_type, bucket_id, slot_date, time_bucket, interval_id, opened_hi, opened_local,
               opened_lo, NULL, is_release, 'p|' || interval_id
        FROM slot_intervals;
        INSERT INTO availability_events
        SELECT interval_id || '|CLOSED', 'CLOSED', provider, venue_id, slot_date, slot_time, party_size,
               table_type, bucket_id, slot_date, time_bucket, interval_id, closed_hi,
               closed_hi - INTERVAL 5 HOUR, closed_lo, duration_s, is_release, 'p|' || interval_id
        FROM slot_intervals WHERE end_reason = 'closed';
    """)

    # buckets: today's window of 14 days x 2 time slots x 2 party sizes
    b = []
    for d in range(14):
        day = LAST_DAY + timedelta(days=d)
        for ts, tb in (("15:00", "off_peak"), ("19:00", "prime")):
            for p in (2, 4):
                stale = d == 13 and p == 4      # one stale party size
                b.append({"bucket_id": f"{day}_{ts}", "party_size": p, "bucket_date": day, "time_slot": ts,
                          "time_bucket": tb, "created_at": datetime(2026, 11, 1), "calibration_done": 3,
                          "calibration_tries": 3, "baseline_ready": True,
                          "baseline_slots": int(rng.integers(20, 60)),
                          "last_poll_at": AS_OF, "last_trusted_at": AS_OF - timedelta(hours=2) if stale else AS_OF,
                          "pending_collapse": False})
    bk = pd.DataFrame(b)
    con.execute("INSERT INTO buckets BY NAME SELECT * FROM bk")

    # open slots now: drops of various ages (minutes) + baseline slots
    o = []
    for k, age_min in enumerate([1, 3, 7, 12, 14, 25, 40, 90, 200, 600]):
        venue = int(vid[k % venues])
        day = LAST_DAY + timedelta(days=k % 14)
        tb_time = "19:00:00" if k % 2 else "15:00:00"
        o.append({"provider": "resy", "venue_id": venue, "slot_date": day, "slot_time": tb_time,
                  "party_size": 2 if k % 3 else 4, "table_type": "std", "bucket_id": f"{day}_{tb_time[:5]}",
                  "interval_id": f"open{k}", "source": "drop",
                  "opened_lo": AS_OF - timedelta(minutes=age_min, seconds=30),
                  "opened_hi": AS_OF - timedelta(minutes=age_min), "last_seen_at": AS_OF, "is_release": False})
    for k in range(8):
        venue = int(vid[(k + 3) % venues])
        day = LAST_DAY + timedelta(days=k)
        o.append({"provider": "resy", "venue_id": venue, "slot_date": day, "slot_time": "19:00:00",
                  "party_size": 2, "table_type": "std", "bucket_id": f"{day}_19:00", "interval_id": f"base{k}",
                  "source": "baseline", "opened_lo": None, "opened_hi": datetime(2026, 11, 14, 9),
                  "last_seen_at": AS_OF, "is_release": False})
    os_ = pd.DataFrame(o)
    con.execute("INSERT INTO open_slots BY NAME SELECT * FROM os_")

    # poll ledger: the last 24 h, each bucket-party every 10 min, a few errors and a gap
    pl = []
    for (bid, p) in bk[["bucket_id", "party_size"]].itertuples(index=False):
        t = AS_OF - timedelta(hours=24)
        while t <= AS_OF:
            r = rng.uniform()
            outcome = "ok" if r < 0.9 else ("rate_limited" if r < 0.95 else ("timeout" if r < 0.98 else "schema_drift"))
            if not (bid.endswith("15:00") and p == 2 and AS_OF - timedelta(hours=6) < t < AS_OF - timedelta(hours=5)):
                pl.append({"poll_id": f"resy|{bid}|{p}|{t.isoformat()}", "provider": "resy", "bucket_id": bid,
                           "party_size": p, "started_at": t, "finished_at": t + timedelta(seconds=1),
                           "phase": "live", "trusted": outcome == "ok", "outcome": outcome, "detail": None,
                           "http_status": 200 if outcome == "ok" else 429, "pages": 1, "requests": 1,
                           "venues_seen": 10, "slots_seen": 20, "n_new_drop": 0, "n_closed": 0, "n_expired": 0,
                           "latency_ms": float(rng.uniform(50, 400))})
            t += timedelta(minutes=10)
    pl_ = pd.DataFrame(pl)
    con.execute("INSERT INTO poll_ledger BY NAME SELECT * FROM pl_")
    con.execute("INSERT INTO service_state VALUES ('breaker', 'closed', $t), ('status', 'running', $t)",
                {"t": AS_OF})
    con.close()
    return path
