"""The funnel analytics recover the simulated client's own truth, through the real HTTP endpoint,
with retries, lost responses, deliberate duplicates and client clock skew in the stream."""

from __future__ import annotations

import random
from datetime import time, timedelta
from typing import Any

import pandas as pd
import pytest

from analytics import funnels, goals
from collector.store.writer import Store
from simulator.alerts import AlertSimulator

from .conftest import KEY, T0

HOODS = ["West Village", "SoHo", "Williamsburg", "Tribeca", "Harlem"]


def make_drops(seed: int, n: int = 90) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    drops = []
    for i in range(n):
        venue = rng.randint(1, 12)
        opened_hi = T0 + timedelta(seconds=rng.uniform(0, 7200))
        slot_time = rng.choice([time(15, 0), time(19, 0)])
        kind = rng.random()
        if kind < 0.8:  # closed: first poll without it 60 s after the last poll with it
            closed_lo = opened_hi + timedelta(seconds=rng.lognormvariate(5.5, 1.2))
            closed_hi, end = closed_lo + timedelta(seconds=60), "closed"
        elif kind < 0.9:
            closed_lo = opened_hi + timedelta(hours=5)
            closed_hi, end = closed_lo + timedelta(seconds=60), "expired"
        else:  # still open: lives in open_slots
            closed_lo, closed_hi, end = None, None, None
        drops.append({"interval_id": f"resy|{venue}|{i}|{opened_hi.isoformat()}", "venue_id": venue,
                      "neighborhood": HOODS[venue % len(HOODS)],
                      "slot_date": (T0 + timedelta(days=rng.randint(0, 6))).date(), "slot_time": slot_time,
                      "party_size": rng.choice([2, 4]), "time_bucket": "prime" if slot_time.hour == 19 else "off_peak",
                      "opened_hi": opened_hi, "closed_lo": closed_lo, "closed_hi": closed_hi, "end_reason": end})
    return drops


def load_market(store: Store, drops: list[dict[str, Any]]) -> None:
    """Write venues, slot intervals and open slots as the collector would (one transaction)."""
    venues = pd.DataFrame({"provider": "resy", "venue_id": range(1, 13), "name": [f"V{i}" for i in range(1, 13)],
                           "neighborhood": [HOODS[i % len(HOODS)] for i in range(1, 13)], "price_range": 2,
                           "cuisine": "x", "tz": "America/New_York", "lat": 0.0, "lon": 0.0,
                           "first_seen_at": T0, "last_seen_at": T0})
    done = [d for d in drops if d["end_reason"]]
    still = [d for d in drops if not d["end_reason"]]
    iv = pd.DataFrame([{
        "interval_id": d["interval_id"], "provider": "resy", "venue_id": d["venue_id"], "slot_date": d["slot_date"],
        "slot_time": d["slot_time"], "party_size": d["party_size"], "table_type": "std",
        "bucket_id": f"{d['slot_date']}_{d['slot_time'].strftime('%H:%M')}", "time_bucket": d["time_bucket"],
        "source": "drop", "is_release": False, "opened_lo": d["opened_hi"] - timedelta(seconds=60),
        "opened_hi": d["opened_hi"], "closed_lo": d["closed_lo"], "closed_hi": d["closed_hi"],
        "end_reason": d["end_reason"], "duration_s": (d["closed_hi"] - d["opened_hi"]).total_seconds(),
        "opened_local": d["opened_hi"]} for d in done])
    op = pd.DataFrame([{
        "provider": "resy", "venue_id": d["venue_id"], "slot_date": d["slot_date"], "slot_time": d["slot_time"],
        "party_size": d["party_size"], "table_type": f"std{i}",
        "bucket_id": f"{d['slot_date']}_{d['slot_time'].strftime('%H:%M')}", "interval_id": d["interval_id"],
        "source": "drop", "opened_lo": d["opened_hi"] - timedelta(seconds=60), "opened_hi": d["opened_hi"],
        "is_release": False} for i, d in enumerate(still)])
    bk = op[["bucket_id", "party_size", "slot_date", "slot_time"]].drop_duplicates(["bucket_id", "party_size"])
    bk = pd.DataFrame({"bucket_id": bk.bucket_id, "party_size": bk.party_size, "bucket_date": bk.slot_date,
                       "time_slot": bk.slot_time.map(lambda t: t.strftime("%H:%M")),
                       "time_bucket": bk.slot_time.map(lambda t: "prime" if t.hour == 19 else "off_peak"),
                       "created_at": T0})

    def job(cur: Any) -> None:
        for name, df in (("venues", venues), ("slot_intervals", iv), ("open_slots", op)):
            cur.register("src", df)
            cur.execute(f"INSERT INTO {name} BY NAME SELECT * FROM src")  # noqa: S608 - fixed table names
            cur.unregister("src")
        cur.register("src", bk)
        cur.execute("INSERT INTO buckets BY NAME SELECT * FROM src")
        cur.unregister("src")
    store.write(job)


@pytest.mark.parametrize("seed", [11, 12])
def test_funnel_equals_simulated_truth(seed, server, store, clock):
    drops = make_drops(seed)
    load_market(store, drops)
    sim = AlertSimulator(server.url, KEY, seed, users=25, dup_rate=0.3, lost_response_rate=0.1,
                         fault_rate=0.15, max_skew_s=300)
    t1, t2 = T0 + timedelta(minutes=70), T0 + timedelta(days=3)
    clock.set(t1)  # the server's clock is the simulated "now": phase 1 sees part of the journeys
    sim.run_for_drops(drops, t1)
    clock.set(t2)
    truth = sim.run_for_drops(drops, t2)
    assert truth.retries > 0 and truth.duplicate_sends > 0 and truth.server_duplicates > 0
    assert sim.transport is not None and sim.transport.faults > 0
    expected = sim.truth_funnel(tap_window_s=1800, book_window_s=86400)
    assert expected["steps"]["booking_confirmed"] > 5  # a meaningful funnel

    f = funnels.make_filter(T0 - timedelta(days=1), T0 + timedelta(days=5), tap_window_s=1800,
                            book_window_s=86400)
    with store.cursor() as con:
        n_events = con.execute("SELECT count(*) FROM alert_events").fetchone()[0]
        rep = funnels.funnel_report(con, f, min_sample=5)
        summary = goals.goal_summary(con, f, min_sample=5).iloc[0]
    # every distinct acknowledged message stored once
    assert n_events == len(truth.acked)

    steps = rep["steps"].set_index("step")["n"].to_dict()
    assert steps == expected["steps"]
    times = rep["times"].set_index("span")
    for span, tv in expected["times"].items():
        assert times.loc[span, "n"] == tv["n"]
        if tv["n"]:
            assert abs(times.loc[span, "median_s"] - tv["median_s"]) < 1.0
            assert abs(times.loc[span, "p90_s"] - tv["p90_s"]) < 1.0
    late = rep["too_late"].iloc[0]
    assert late["n_acted"] == expected["too_late"]["n_acted"]
    assert late["n_acted_too_late"] == expected["too_late"]["n_acted_too_late"]
    assert late["n_acted_possibly_late"] == expected["too_late"]["n_acted_possibly_late"]
    assert expected["too_late"]["n_acted_too_late"] > 0

    # breakdown by venue sums to the total and matches the truth per venue
    by_venue = rep["by_venue"].set_index("value")["n_booked"].to_dict()
    want: dict[str, int] = {}
    for j in truth.journeys:
        want.setdefault(str(j.drop["venue_id"]), 0)
    assert sum(by_venue.values()) == expected["steps"]["booking_confirmed"]
    assert set(by_venue) == set(want)

    # goals: drops matching any registered goal, as the simulated users' own goals say
    matched = sum(any(g.matches(d) for g in truth.goals) for d in drops)
    assert summary["n_drops"] == len(drops)
    assert summary["n_matched"] == matched
    assert summary["n_alerts_matched"] == expected["alerts"]
    assert summary["n_booked_matched"] == expected["steps"]["booking_confirmed"]
    assert summary["n_alerts_unmatched"] == 0
