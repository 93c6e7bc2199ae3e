"""Shared helpers of the simulator tests: the test market's start, auth header, search bodies, a full
bucket poll, and the estimators of the statistical tests (events against the model's expected events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import numpy as np

from simulator.model import Market
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



def expected_events(m: Market, base_rate: np.ndarray, kind: str, slot_start: np.ndarray, t0: np.ndarray,
                    t1: np.ndarray) -> np.ndarray:
    """Expected events of each spell [t0, t1) per lead band (rows): the base rate x the band's factor x the
    activity time spent in the band (the documented model: model_parameters() and the activity clock)."""
    params = m.model_parameters()
    edges = np.concatenate([[-np.inf], params[f"{kind}_lead_edges_s"], [np.inf]])
    factors = params[f"{kind}_lead_factors"]
    out = np.zeros((len(factors), t0.size))
    for i, factor in enumerate(factors):
        # band i: seconds before the slot in (edges[i], edges[i+1]], i.e. t in [start - edges[i+1], start - edges[i])
        lo = np.maximum(t0, slot_start - edges[i + 1])
        hi = np.minimum(t1, slot_start - edges[i])
        ok = hi > lo
        out[i, ok] = base_rate[ok] * factor * (m.activity.to_activity(hi[ok]) - m.activity.to_activity(lo[ok]))
    return out


def open_and_drop_estimates(m: Market, f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per open spell and booked spell: exposure, whether it ended in its event, and the events the model
    expects over it (from the truth frame).

    Open spells: exposure = (closed or now) - opened, event = reason 'booked'. Booked spells: from a
    'booked' close to the slot's next opening (a cancellation: event) or to min(now, expiry) (censored).
    """
    now = m.now_ts()
    weekday_factor = np.asarray(m.model_parameters()["weekday_factor"])
    opened, closed = f["opened"], f["closed"]
    end = np.where(np.isnan(closed), now, closed)
    open_expected = expected_events(m, weekday_factor[f["weekday"]] / f["mean_open"], "booking", f["slot_start"],
                                    opened, end).sum(axis=0)
    # slot identity for ordering spells
    key = np.stack([f["venue_id"], f["slot_date"], f["minute"], f["party_size"], f["table_type"]])
    order = np.lexsort((opened, *key[::-1]))
    same_next = np.zeros(order.size, dtype=bool)
    ks = key[:, order]
    same_next[:-1] = (ks[:, 1:] == ks[:, :-1]).all(axis=0)
    booked = f["reason"][order] == 0
    b_start = end[order][booked]
    nxt_open = np.empty(order.size)
    nxt_open[:-1] = opened[order][1:]
    has_next = same_next[booked]
    b_end = np.where(has_next, nxt_open[booked], np.minimum(now, f["expiry"][order][booked]))
    slot_start = f["slot_start"][order][booked]
    return {"open_exposure": end - opened, "open_event": f["reason"] == 0, "open_expected": open_expected,
            "booked_exposure": b_end - b_start, "booked_event": has_next, "booked_start": b_start,
            "booked_end": b_end, "booked_slot_start": slot_start,
            "booked_expected_by_band": expected_events(m, 1.0 / f["mean_booked"][order][booked], "cancel",
                                                       slot_start, b_start, b_end),
            "booked_venue": f["venue_id"][order][booked]}
