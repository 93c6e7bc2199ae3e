"""The digest's demo databases: bench.synth, the real nightly aggregation, and seeded alert events
for the digest week (the synthetic market has no clients).

For a share of the week's NEW_DROP intervals: alert_sent 20 s after the drop was seen, then
alert_opened / tap_to_reserve / booking_confirmed with fixed probabilities and exponential
delays. Deterministic under the seed. Imported by name (tests/ is not a package).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd

from analytics import nightly
from analytics.db import connect
from analytics.digest.queries import local_midnight_utc
from bench.synth import make_synthetic_db

TZ = "America/New_York"
END = date(2026, 11, 22)          # a Sunday: 2026-W47 is the last complete week
WEEK = "2026-W47"
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def settings_for(db: Path, **kw: object) -> SimpleNamespace:
    """The settings values the digest reads, for the database DB (overrides in KW)."""
    base = dict(db_path=str(db), snapshot_path=str(db.with_suffix(".no-snapshot")), timezone=TZ, min_sample=10,
                tap_window_s=1800, book_window_s=86400)
    base.update(kw)
    return SimpleNamespace(**base)

STEPS = (("alert_opened", 0.55, 120.0), ("tap_to_reserve", 0.45, 60.0), ("booking_confirmed", 0.5, 300.0))


def add_alerts(con: duckdb.DuckDBPyConnection, t0: datetime, t1: datetime, *, seed: int = 5,
               share: float = 0.12) -> int:
    """Insert alert journeys for drops first seen in [t0, t1) (naive UTC); returns alerts sent."""
    drops = con.execute("SELECT interval_id, venue_id, opened_hi FROM slot_intervals WHERE source = 'drop' "
                        "AND opened_hi >= ? AND opened_hi < ? ORDER BY interval_id", [t0, t1]).fetchall()
    rng = random.Random(seed)
    rows = []
    for i, (iid, vid, opened) in enumerate(drops):
        if rng.random() >= share:
            continue
        aid, user = f"alert-{i:06d}", f"user-{rng.randint(1, 300):03d}"
        t = opened + timedelta(seconds=20)
        rows.append((f"{aid}-sent", aid, user, "alert_sent", t, iid + "|NEW_DROP", vid))
        for etype, p, mean_s in STEPS:
            if rng.random() >= p:
                break
            t = t + timedelta(seconds=round(rng.expovariate(1 / mean_s), 1))
            rows.append((f"{aid}-{etype}", aid, user, etype, t, None, None))
    df = pd.DataFrame(rows, columns=["message_id", "alert_id", "user_id", "event_type", "t", "drop_event_id",
                                     "venue_id"])
    cur = con.cursor()
    try:
        cur.register("demo_alerts", df)
        cur.execute("""INSERT INTO alert_events
            SELECT message_id, alert_id, user_id, event_type, t, t, t, t, 0.0, 0.0, drop_event_id,
                   venue_id::BIGINT, NULL, NULL, 'demo' FROM demo_alerts""")
        cur.unregister("demo_alerts")
    finally:
        cur.close()
    return sum(1 for r in rows if r[3] == "alert_sent")


def make_demo_db(path: Path, *, venues: int, days: int, events: int, seed: int, end: date, week: date) -> Path:
    """A synthetic market ending END, every metric table (nightly.recompute up to END), and alert
    journeys for the drops of the market-local week starting WEEK (a Monday)."""
    make_synthetic_db(path, venues=venues, days=days, events=events, seed=seed, end=end)
    con = connect(path)
    try:
        nightly.recompute(con, tz=TZ, min_sample=10, today=end + timedelta(days=1))
        add_alerts(con, local_midnight_utc(week, TZ), local_midnight_utc(week + timedelta(days=7), TZ))
    finally:
        con.close()
    return path
