"""Seeded alert events for the digest's demo databases (the synthetic market has no clients).

For a share of the week's NEW_DROP intervals: alert_sent 20 s after the drop was seen, then
alert_opened / tap_to_reserve / booking_confirmed with fixed probabilities and exponential
delays. Deterministic under the seed. Imported by name (tests/ is not a package).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import duckdb
import pandas as pd

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
