"""Shared helpers of the simulator tests: the test market's start, auth header, search bodies, a full
bucket poll, and the estimators of the statistical test (events over the model's expected events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import numpy as np

from simulator.model import booking_rate, cancel_rate
from simulator.server import DEFAULT_API_KEY

START = datetime(2026, 11, 23, 17, 0)  # a Monday, 12:00 in New York
AUTH = {"Authorization": f'ResyAPI api_key="{DEFAULT_API_KEY}"'}
DAY = "2026-11-25"


def search_body(day: str = DAY, party: int = 2, tf: str | None = "19:00", page: int = 1, per_page: int = 75,
                **extra: Any) -> dict[str, Any]:
    return {"availability": True, "page": page, "per_page": per_page,
            "slot_filter": {"day": day, "party_size": party, "time_filter": tf}, "types": ["venue"],
            "order_by": "availability", "geo": {"latitude": 40.7128, "longitude": -74.006, "radius": 35420},
            "query": "", **extra}


def poll_all(client: httpx.Client, **kw: Any) -> list[dict[str, Any]]:
    """Every page of one search (the way the collector polls a bucket)."""
    pages = []
    page = 1
    while True:
        r = client.post("/3/venuesearch/search", json=search_body(page=page, **kw))
        assert r.status_code == 200, r.text
        pages.append(r.json())
        if page >= pages[-1]["search"]["nbPages"]:
            return pages
        page += 1



def open_and_drop_estimates(f: dict[str, np.ndarray], now: float) -> dict[str, np.ndarray]:
    """Per interval/booked-period exposure, events and the model's rate in force (from the truth frame).

    Open spells: exposure = (closed or now) - opened, event = reason 'booked', rate = booking rate at
    entry. Booked spells: from a 'booked' close to the slot's next opening (a cancellation: event) or to
    min(now, expiry) (censored), rate = cancellation rate at entry.
    """
    opened, closed = f["opened"], f["closed"]
    end = np.where(np.isnan(closed), now, closed)
    open_rate = booking_rate(f["mean_open"], f["weekday"], f["slot_start"] - opened)
    # slot identity for ordering spells
    key = np.stack([f["venue_id"], f["slot_date"], f["minute"], f["party_size"], f["table_type"]])
    order = np.lexsort((opened, *key[::-1]))
    same_next = np.zeros(order.size, dtype=bool)
    ks = key[:, order]
    same_next[:-1] = (ks[:, 1:] == ks[:, :-1]).all(axis=0)
    reason = f["reason"][order]
    booked = reason == 0
    b_start = end[order][booked]
    nxt_open = np.empty(order.size)
    nxt_open[:-1] = opened[order][1:]
    has_next = same_next[booked]
    b_end = np.where(has_next, nxt_open[booked], np.minimum(now, f["expiry"][order][booked]))
    b_event = has_next
    b_rate = cancel_rate(f["mean_booked"][order][booked], f["slot_start"][order][booked] - b_start)
    return {"open_exposure": end - opened, "open_event": f["reason"] == 0, "open_rate": open_rate,
            "booked_exposure": b_end - b_start, "booked_event": b_event, "booked_rate": b_rate,
            "booked_venue": f["venue_id"][order][booked]}
