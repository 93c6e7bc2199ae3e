"""Ground truth agrees with what was served, does not depend on what was asked when, and means what it says."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import numpy as np
from sim_helpers import START, poll_all

from simulator.api import ProviderApi
from simulator.model import TZ, Market, local_to_ts, to_ts

TODAY = "2026-11-23"
Key = tuple[int, str, str, int, str]


def served(pages: list[dict[str, Any]], party: int) -> set[Key]:
    out = set()
    for p in pages:
        for h in p["search"]["hits"]:
            for s in h["availability"]["slots"]:
                d, t = s["date"]["start"].split(" ")
                out.add((h["id"]["resy"], d, t, party, s["config"]["type"]))
    return out


def truth_key(r: dict[str, Any]) -> Key:
    return (r["venue_id"], r["slot_date"], r["slot_time"], r["party_size"], r["table_type"])


def open_at(intervals: list[dict[str, Any]], t: datetime, day: str, lo: str, hi: str, party: int) -> set[Key]:
    return {truth_key(r) for r in intervals
            if r["slot_date"] == day and lo <= r["slot_time"] <= hi and r["party_size"] == party
            and r["opened_at"] <= t and (r["closed_at"] is None or r["closed_at"] > t)}


def test_served_slots_match_the_truth_at_every_poll(client: httpx.Client, market: Market) -> None:
    polls: list[tuple[datetime, str, str, int, set[Key]]] = []
    t = START
    for _ in range(22):  # 12:00 -> 19:00 New York: today's prime slots reach their cut-off and expire
        for day, tf, party in ((TODAY, "19:00", 2), ("2026-11-24", "15:00", 4), ("2026-11-25", "19:00", 2)):
            polls.append((t, day, tf, party, served(poll_all(client, day=day, tf=tf, party=party), party)))
        t = datetime.fromisoformat(client.post("/_sim/advance", json={"seconds": 1200}).json()["now"])
    truth = market.truth_intervals(START - timedelta(days=40), t)
    buckets: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in truth:
        buckets[(r["slot_date"], r["party_size"])].append(r)
    n_served = 0
    for when, day, tf, party, seen in polls:
        h = int(tf[:2])
        expect = open_at(buckets[(day, party)], when, day, f"{h - 1:02d}:00:00", f"{h + 1:02d}:00:00", party)
        # equality both ways: every served slot is open in the truth at that instant (so never served
        # after its true close), and every truly open slot of the bucket was served
        assert seen == expect, f"poll at {when} of {day} {tf} p{party}: served {len(seen)}, truth {len(expect)}"
        n_served += len(seen)
    assert n_served > 1000
    expired_today = [r for r in truth if r["slot_date"] == TODAY and r["reason"] == "expired"]
    assert expired_today, "today's prime slots expired during the run"


def test_expiry_and_booking_reasons_respect_the_cutoff() -> None:
    market = Market(7, n_venues=50, start=START)
    market.materialize([date(2026, 11, 23), date(2026, 11, 24)], (2, 4), (None,))
    market.advance(36 * 3600)
    cut = {v.venue_id: v.cutoff_minutes for v in market.venues}
    rows = market.truth_intervals(START - timedelta(days=40), market.now())
    assert {r["reason"] for r in rows} == {"booked", "expired"}, "36 h later both dates have expired"
    n_expired = 0
    for r in rows:
        d = date.fromisoformat(r["slot_date"])
        hh, mm = int(r["slot_time"][:2]), int(r["slot_time"][3:5])
        expiry_utc = datetime(1970, 1, 1) + timedelta(seconds=local_to_ts(d, hh * 60 + mm) - 60 * cut[r["venue_id"]])
        if r["reason"] == "expired":
            n_expired += 1
            assert r["closed_at"] == expiry_utc
        elif r["reason"] == "booked":
            assert r["closed_at"] < expiry_utc
        assert r["opened_at"] < expiry_utc
    assert n_expired > 50


def test_release_opens_a_whole_date_at_the_window_edge(market: Market) -> None:
    v = market.venues[0]
    rel_h = int(v.release_time[:2])
    # the first release instant after START for this venue, and the date it opens
    d = START.date()
    while to_ts(START) >= local_to_ts(d, rel_h * 60):
        d += timedelta(days=1)
    released = d + timedelta(days=v.booking_window_days)
    rel_at = datetime(1970, 1, 1) + timedelta(seconds=local_to_ts(d, rel_h * 60))
    market.materialize([released], (2,), (None,))
    assert market.truth_intervals(START - timedelta(days=1), market.now(), v.venue_id) == []
    market.advance_to(rel_at + timedelta(seconds=1))
    market.materialize([released], (2,), (None,))
    rows = [r for r in market.truth_intervals(rel_at, market.now(), v.venue_id) if r["is_release"]]
    n_slots = len(v.slot_minutes()) * len(v.table_types_for(2))
    assert len(rows) == n_slots
    assert {r["opened_at"] for r in rows} == {rel_at}
    assert {r["slot_date"] for r in rows} == {released.isoformat()}


def _truth_19(m: Market, day: date) -> list[dict[str, Any]]:
    return [r for r in m.truth_intervals(START - timedelta(days=40), m.now())
            if r["slot_date"] == day.isoformat() and "18:00:00" <= r["slot_time"] <= "20:00:00"
            and r["party_size"] == 2]


def test_truth_does_not_depend_on_what_was_asked_or_when() -> None:
    day = date(2026, 11, 26)
    end = START + timedelta(hours=30)
    a = Market(9, n_venues=80, start=START)
    api_a = ProviderApi(a)
    t = START
    while t < end:  # A polls often, several buckets, in one order, and ends exactly at `end`
        for tf in ("15:00", "19:00"):
            api_a.search({"availability": True, "page": 1, "per_page": 75,
                      "slot_filter": {"day": day.isoformat(), "party_size": 2, "time_filter": tf}})
        api_a.find({"day": day.isoformat(), "party_size": "2", "venue_id": str(a.venues[1].venue_id)})
        t = min(end, t + timedelta(minutes=7))
        a.advance_to(t)
    b = Market(9, n_venues=80, start=START)  # B only asks once, at the end
    b.advance_to(end)
    ProviderApi(b).search({"availability": False, "slot_filter": {"day": day.isoformat(), "party_size": 2, "time_filter": "19:00"}})
    ta, tb = _truth_19(a, day), _truth_19(b, day)
    assert len(ta) > 100
    assert ta == tb


def test_fully_booked_share_matches_a_brute_force_reading_of_the_truth() -> None:
    market = Market(7, n_venues=60, start=START)
    end = START + timedelta(hours=20)
    market.advance_to(end)
    shares = market.truth_fully_booked(START, end, "19:00", 2)
    assert len(shares) == len(market.venues)
    rows = [r for r in market.truth_intervals(START - timedelta(days=40), end)
            if r["party_size"] == 2 and "18:00:00" <= r["slot_time"] <= "20:00:00"]
    by = defaultdict(list)
    for r in rows:
        by[(r["venue_id"], r["slot_date"])].append((to_ts(r["opened_at"]),
                                                    to_ts(r["closed_at"]) if r["closed_at"] else to_ts(end)))
    grid = np.arange(to_ts(START), to_ts(end), 60.0) + 30.0
    watched_n: dict[int, int] = defaultdict(int)
    none_n: dict[int, int] = defaultdict(int)
    days = [START.date() + timedelta(days=i) for i in range(16)]
    for vid in shares:
        for d in days:
            first_day = local_to_ts(d - timedelta(days=13), 0)
            until = min(local_to_ts(d + timedelta(days=1), 0), local_to_ts(d, 19 * 60) - 3600)
            w = grid[(grid >= first_day) & (grid < until)]
            if not w.size:
                continue
            covered = np.zeros(w.size, dtype=bool)
            for o, c in by.get((vid, d.isoformat()), []):
                covered |= (w >= o) & (w < c)
            watched_n[vid] += w.size
            none_n[vid] += int((~covered).sum())
    diffs = [abs(shares[v] - none_n[v] / watched_n[v]) for v in shares]
    assert max(diffs) < 0.01
    tiers = {v.venue_id: v.tier for v in market.venues}
    mean = {t: np.mean([s for v, s in shares.items() if tiers[v] == t]) for t in ("impossible", "easy")}
    assert mean["impossible"] > 0.9 > 0.3 > mean["easy"]


def test_forget_before_drops_old_dates_only() -> None:
    m = Market(7, n_venues=20, start=START)
    m.materialize([date(2026, 11, 23), date(2026, 11, 24)], (2,), ("19:00",))
    assert {r["slot_date"] for r in m.truth_intervals(START - timedelta(days=40), m.now())} == {
        "2026-11-23", "2026-11-24"}
    assert m.forget_before(date(2026, 11, 24)) == 1
    assert {r["slot_date"] for r in m.truth_intervals(START - timedelta(days=40), m.now())} == {"2026-11-24"}


def test_drops_and_bookings_by_hour_of_day_follow_the_published_profile(client: httpx.Client,
                                                                          market: Market) -> None:
    profile = np.asarray(client.get("/_sim/venues").json()["model"]["activity_profile"])
    assert profile.shape == (24,) and abs(profile.mean() - 1) < 1e-9
    assert profile[2:5].max() < 0.25 < 1.3 < profile[10:12].min() and profile[17:19].min() > 1.3
    days = [START.date() + timedelta(days=i) for i in range(4)]
    for _ in range(6):  # two days in 8-hour steps, the prime buckets of the next 4 days (party class 2)
        market.materialize(days, (2,), ("19:00",))
        client.post("/_sim/advance", json={"seconds": 8 * 3600})
    end = market.now()
    rows = client.get("/_sim/truth/intervals", params={"start": START.isoformat(), "end": end.isoformat()}
                      ).json()["intervals"]
    drops, bookings = np.zeros(24), np.zeros(24)
    for r in rows:
        opened = datetime.fromisoformat(r["opened_at"])
        if not r["is_release"] and opened >= START:
            drops[opened.replace(tzinfo=UTC).astimezone(TZ).hour] += 1
        if r["reason"] == "booked":
            bookings[datetime.fromisoformat(r["closed_at"]).replace(tzinfo=UTC).astimezone(TZ).hour] += 1
    assert drops.sum() > 3000 and bookings.sum() > 3000
    assert np.corrcoef(drops, profile)[0, 1] >= 0.9, drops
    assert np.corrcoef(bookings, profile)[0, 1] >= 0.9, bookings
    assert drops[2:5].sum() < 0.2 * drops[17:20].sum()
