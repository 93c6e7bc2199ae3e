"""Synthetic market databases in the 0001 core schema, for benchmarks, demos and tests.

``make_synthetic_db(path, venues=400, days=14, events=200_000, seed=1)`` builds a DuckDB file as
the collector would have left it after ``days`` days of polling: venues (fictional names, real
NYC neighborhoods, price ranges), the current bucket window, a poll ledger on a fixed cadence per
(bucket, party size) with some failed polls and one 2-hour outage (every poll untrusted), slot
intervals and the availability events that match them (NEW_DROP / BASELINE_AVAILABLE at
opened_hi, CLOSED / EXPIRED at closed_hi; every bound is a trusted poll of that bucket), open
slots for intervals still open at ``now``, and venue_dates_seen. Deterministic under the seed.

Everything is generated with numpy in "poll index" space and written with bulk Arrow inserts; ids
and strings are built inside DuckDB. 10M events build in well under a minute.

Simplifications (documented, harmless for metrics): two intervals of the same slot key may
overlap in time (only the latest still-open one is kept in open_slots); local <-> UTC uses the
zone's offset per UTC hour, so local wall times are exact, while the synthetic *choice* of an
opening hour is approximate on DST days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from analytics.db import connect
from collector.store.migrate import migrate

TZ = "America/New_York"
PROVIDER = "resy"
NEIGHBORHOODS = [
    "West Village", "East Village", "SoHo", "Tribeca", "Lower East Side", "Chelsea", "Flatiron",
    "Nolita", "Greenwich Village", "Midtown", "Upper West Side", "Upper East Side", "Williamsburg",
    "Greenpoint", "Park Slope", "Carroll Gardens", "Harlem", "Chinatown", "NoMad", "Gramercy",
    "Murray Hill", "Astoria", "Long Island City", "Bushwick",
]
CUISINES = ["Italian", "Japanese", "French", "American", "Korean", "Mexican", "Chinese", "Thai",
            "Indian", "Mediterranean", "Seafood", "Steakhouse"]
ADJ = ["Velvet", "Golden", "Quiet", "Salt", "Copper", "Little", "Wild", "Blue", "Crooked", "Silver",
       "Hidden", "Lucky", "Red", "Olive", "Smoky", "Honey", "Iron", "Paper", "Stone", "Amber"]
NOUN = ["Anchor", "Fig", "Lantern", "Table", "Harbor", "Oak", "Sparrow", "Kitchen", "Hearth", "Vine",
        "Door", "Fox", "Garden", "Room", "Tavern", "Orchard", "Pearl", "Bell", "Crane", "Bistro"]
TABLE_TYPES = ["Dining Room", "Bar", "Patio"]
TIME_SLOTS = ["15:00", "19:00"]
PRIME = {"19:00"}
PARTY_SIZES = [2, 4]
WINDOW_DAYS = 14
EXPIRY_GUARD_S = 3600
# Big tables are loaded without keys; the keys 0001 declares are added after the load (building an
# ART key in one pass is ~3x faster than row by row). availability_events has no key (see 0001).
BIG_TABLES = {"slot_intervals": "interval_id", "availability_events": None, "poll_ledger": "poll_id"}
HOUR_W = np.array([0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 2.0, 2.5, 2.0, 1.6, 1.4, 1.3,
                   1.3, 1.5, 2.0, 2.6, 2.8, 2.4, 1.6, 0.9, 0.5])


def _offsets_per_hour(t0: datetime, hours: int, tz: str) -> np.ndarray:
    """UTC offset (seconds) of tz for each UTC hour from t0 (naive UTC); DST changes on the hour."""
    z = ZoneInfo(tz)
    out = np.empty(hours, dtype=np.int64)
    for h in range(hours):
        u = (t0 + timedelta(hours=h)).replace(tzinfo=UTC)
        off = u.astimezone(z).utcoffset()
        out[h] = int(off.total_seconds()) if off is not None else 0
    return out


def _local_midnight_utc(d: date, tz: str) -> datetime:
    return datetime.combine(d, time()).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC).replace(tzinfo=None)


def _local_to_utc(d: date, hhmm: str, tz: str) -> datetime:
    h, m = hhmm.split(":")
    loc = datetime.combine(d, time(int(h), int(m))).replace(tzinfo=ZoneInfo(tz))
    return loc.astimezone(UTC).replace(tzinfo=None)


def make_synthetic_db(path: str | Path, *, venues: int = 400, days: int = 14, events: int = 200_000,
                      seed: int = 1, end: date | None = None, now: datetime | None = None,
                      poll_interval_s: int = 300, outage: bool = True, fail_share: float = 0.015,
                      tz: str = TZ) -> dict[str, Any]:
    """Build a synthetic collector database at ``path`` (must not exist yet); returns a summary.

    Observation days are ``end - days + 1 .. end`` (market-local). ``now`` (naive UTC) is where the
    data stops: by default local midnight after ``end``; when ``end`` is None, end = today and
    now = the current time (demo data that looks live). With an explicit ``end`` the result is
    deterministic under ``seed``.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; make_synthetic_db builds a fresh file")
    if end is None:
        now = datetime.now(UTC).replace(tzinfo=None) if now is None else now
        end = now.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()
    rng = np.random.default_rng(seed)
    first_day = end - timedelta(days=days - 1)
    T0 = _local_midnight_utc(first_day, tz)
    if now is None:
        now = _local_midnight_utc(end + timedelta(days=1), tz)
    now_s = int((now - T0).total_seconds())
    P = int(poll_interval_s)
    span_h = (now_s + 3 * 86400 * (WINDOW_DAYS + 2)) // 3600 + 48
    offs = _offsets_per_hour(T0 - timedelta(days=WINDOW_DAYS + 2), int(span_h), tz)
    off_base_s = -(WINDOW_DAYS + 2) * 86400

    def to_local_s(t: np.ndarray) -> np.ndarray:  # seconds since T0 (UTC) -> local wall seconds since T0
        idx = np.clip((t - off_base_s) // 3600, 0, len(offs) - 1)
        return t + offs[idx]

    # ---- buckets (date x slot x party) watched at some point of the data --------------------
    bdates = [first_day + timedelta(days=i) for i in range(days + WINDOW_DAYS - 1)]
    J: list[tuple[str, date, str, str, int]] = []
    for d in bdates:
        for s in TIME_SLOTS:
            for p in PARTY_SIZES:
                J.append((f"{d.isoformat()}_{s}", d, s, "prime" if s in PRIME else "off_peak", p))
    nJ = len(J)
    j_off = rng.integers(0, P, nJ)
    j_watch0 = np.array([max(0, int((_local_midnight_utc(d - timedelta(days=WINDOW_DAYS - 1), tz) - T0).total_seconds()))
                         for _, d, _, _, _ in J])
    j_slot_utc = np.array([int((_local_to_utc(d, s, tz) - T0).total_seconds()) for _, d, s, _, _ in J])
    j_watch1 = np.minimum(j_slot_utc + 3600, now_s)
    ka = -((j_off - j_watch0) // P)                       # ceil((watch0 - off) / P)
    kb = (j_watch1 - j_off) // P                          # last poll (floor)
    jb = {(d, s, p): i for i, (_, d, s, _, p) in enumerate(J)}
    j_prime = np.array([tb == "prime" for *_, tb, _ in J])

    # outage: 13:00-15:00 local on the third-to-last day (all polls in it untrusted)
    if outage and days >= 3:
        od = end - timedelta(days=2)
        o0 = int((_local_to_utc(od, "13:00", tz) - T0).total_seconds())
        o1 = int((_local_to_utc(od, "15:00", tz) - T0).total_seconds())
    else:
        o0 = o1 = -10**12
    ko0 = -((j_off - o0) // P)   # first poll index inside the outage, per bucket
    ko1 = -((j_off - o1) // P)   # first poll index after it

    # ---- venues ----------------------------------------------------------------------------
    V = int(venues)
    vid = np.arange(1001, 1001 + V, dtype=np.int64)
    scarcity = rng.uniform(0, 1, V)
    mean_dur = 20.0 * 3000.0 ** (1 - scarcity)                     # 20 s (hot) .. 60,000 s (easy)
    w_drop = np.exp(rng.normal(0, 0.6, V)) * (0.15 + (1 - scarcity))
    names = [f"{ADJ[i % 20]} {NOUN[(i // 20) % 20]}" + (f" {i // 400 + 1}" if i >= 400 else "") for i in range(V)]
    hood = rng.integers(0, len(NEIGHBORHOODS), V)
    price = rng.integers(1, 5, V)
    cuisine = rng.integers(0, len(CUISINES), V)

    def slot_cols(n: int, j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        step = rng.integers(-4, 5, n)                               # +-60 min in 15-min steps
        tt = rng.integers(0, 3, n)
        base_min = np.array([int(J[i][2][:2]) * 60 + int(J[i][2][3:]) for i in range(nJ)])[j]
        slot_min = base_min + 15 * step
        # slot start in UTC seconds since T0 ~ bucket slot start + step minutes
        slot_start = j_slot_utc[j] + 15 * 60 * step
        return slot_min, tt, slot_start

    # ---- baseline intervals: at each bucket's first watched poll ------------------------------
    lam = 0.35 * (1 - scarcity)
    base_budget = int(events * 0.15)
    exp_base = lam.sum() * nJ * 1.9
    if exp_base > base_budget and exp_base > 0:
        lam = lam * base_budget / exp_base
    nb = rng.poisson(np.tile(lam, nJ))                              # (J x V) flattened j-major
    bj = np.repeat(np.repeat(np.arange(nJ), V), nb)
    bv = np.repeat(np.tile(np.arange(V), nJ), nb)
    b_open = ka[bj]
    keep = (b_open <= kb[bj]) & (j_off[bj] + b_open * P <= now_s)
    bj, bv, b_open = bj[keep], bv[keep], b_open[keep]
    b_dur = rng.exponential(mean_dur[bv] * 4)

    # ---- drop intervals ---------------------------------------------------------------------
    n_b = len(bj)
    n_drop_target = max(0, int((events - 1.9 * n_b) / 1.9))
    n_gen = int(n_drop_target * 1.6) + 100
    dv = rng.choice(V, n_gen, p=w_drop / w_drop.sum())
    prime = rng.random(n_gen) < 0.6
    party = np.where(rng.random(n_gen) < 0.6, 0, 1)
    release = rng.random(n_gen) < 0.12
    lead_w = 1.0 + (WINDOW_DAYS - 1 - np.arange(WINDOW_DAYS)) / 4.0
    lead = np.where(release, WINDOW_DAYS - 1, rng.choice(WINDOW_DAYS, n_gen, p=lead_w / lead_w.sum()))
    obs_day = rng.integers(0, days, n_gen)
    hour = np.where(release, 9, rng.choice(24, n_gen, p=HOUR_W / HOUR_W.sum()))
    sec_in_hour = np.where(release, rng.exponential(300, n_gen).clip(0, 3599), rng.uniform(0, 3600, n_gen))
    # approximate UTC of the chosen local time (offset of the day at noon)
    day_noon = obs_day * 86400 + 43200
    off_noon = offs[np.clip((day_noon - off_base_s) // 3600, 0, len(offs) - 1)]
    day0_local = obs_day * 86400
    # T0 is local midnight of first_day, i.e. local-wall seconds of T0 = offs at T0
    off_t0 = offs[(0 - off_base_s) // 3600]
    t_open = day0_local + hour * 3600 + sec_in_hour - (off_noon - off_t0)
    slot_idx = np.where(prime, TIME_SLOTS.index("19:00"), TIME_SLOTS.index("15:00"))
    bdate_idx = obs_day + lead
    j_lookup = np.full((len(bdates), len(TIME_SLOTS), len(PARTY_SIZES)), -1)
    for (d, s, p), i in jb.items():
        j_lookup[(d - first_day).days, TIME_SLOTS.index(s), PARTY_SIZES.index(p)] = i
    dj = j_lookup[bdate_idx, slot_idx, party]
    d_open = np.ceil((t_open - j_off[dj]) / P).astype(np.int64)
    d_slot_min, d_tt, d_slot_start = slot_cols(n_gen, dj)
    ke_d = -((j_off[dj] - (d_slot_start - EXPIRY_GUARD_S)) // P)    # first poll at/after the cut-off
    ok = (d_open >= ka[dj] + 3) & (d_open <= kb[dj]) & (d_open < ke_d) & (j_off[dj] + d_open * P <= now_s)
    ok &= ~((d_open >= ko0[dj]) & (d_open < ko1[dj]) & (ko1[dj] >= ke_d))
    factor = np.where(prime, 0.7, 1.3)
    d_dur = rng.exponential(mean_dur[dv] * factor)

    # ---- combine --------------------------------------------------------------------------------
    sel = np.flatnonzero(ok)
    iv_j = np.concatenate([bj, dj[sel]])
    iv_v = np.concatenate([bv, dv[sel]])
    b_slot_min, b_tt, b_slot_start = slot_cols(n_b, bj)
    iv_slot_min = np.concatenate([b_slot_min, d_slot_min[sel]])
    iv_tt = np.concatenate([b_tt, d_tt[sel]])
    iv_slot_start = np.concatenate([b_slot_start, d_slot_start[sel]])
    src = np.concatenate([np.zeros(n_b, np.int8), np.ones(len(sel), np.int8)])     # 0 baseline, 1 drop
    rel = np.concatenate([np.zeros(n_b, bool), release[sel] & (lead[sel] == WINDOW_DAYS - 1)])
    o_k = np.concatenate([b_open, d_open[sel]])
    dur = np.concatenate([b_dur, d_dur[sel]])
    c_k = o_k + np.maximum(1, np.ceil(dur / P)).astype(np.int64)    # first poll without it
    ke = -((j_off[iv_j] - (iv_slot_start - EXPIRY_GUARD_S)) // P)
    expired = c_k >= ke
    c_k = np.where(expired, np.maximum(ke, o_k + 1), c_k)
    # snap bounds to trusted polls around the outage
    k0, k1 = ko0[iv_j], ko1[iv_j]
    in_out = lambda k: (k >= k0) & (k < k1)  # noqa: E731
    o_k = np.where(in_out(o_k), k1, o_k)
    c_k = np.where(in_out(c_k), k1, c_k)
    lo_k = o_k - 1
    lo_k = np.where(in_out(lo_k), k0 - 1, lo_k)
    cl_k = c_k - 1
    cl_k = np.where(in_out(cl_k), k0 - 1, cl_k)
    valid = (c_k > o_k) & (cl_k >= o_k)
    kn = (now_s - j_off[iv_j]) // P                                   # last poll at or before now
    kn = np.minimum(kn, kb[iv_j])
    kn = np.where(in_out(kn), k0 - 1, kn)
    still_open = c_k > kn
    ev_n = 1 + (~still_open).astype(np.int64)
    # trim drops to the event budget (baselines first, then drops in generated order)
    cum = np.cumsum(np.where(valid, ev_n, 0))
    budget = max(events, int(cum[n_b - 1])) if n_b and len(cum) else events
    valid &= cum <= budget
    idx = np.flatnonzero(valid)

    def sec(k: np.ndarray, j: np.ndarray) -> np.ndarray:
        return j_off[j] + k * P

    j_sel = iv_j[idx]
    t0_us = np.datetime64(T0, "us")

    def ts(s: np.ndarray) -> np.ndarray:
        return t0_us + s.astype("timedelta64[s]")

    opened_hi_s = sec(o_k[idx], j_sel)
    opened_lo_s = sec(lo_k[idx], j_sel)
    closed_lo_s = sec(np.where(still_open[idx], kn[idx], cl_k[idx]), j_sel)
    closed_hi_s = sec(c_k[idx], j_sel)
    is_base = src[idx] == 0
    prime_sel = j_prime[j_sel]
    bdate_sel = np.array([d for _, d, _, _, _ in J], dtype="datetime64[D]")[j_sel]
    slot_time = (iv_slot_min[idx] * 60).astype("timedelta64[s]").astype("timedelta64[us]")
    iv = pa.table({
        "venue_id": pa.array(vid[iv_v[idx]]),
        "slot_date": pa.array(bdate_sel),
        "slot_time_us": pa.array(slot_time.astype(np.int64)),
        "party_size": pa.array(np.array([x[4] for x in J], dtype=np.int16)[j_sel]),
        "table_type": pa.array(np.array(TABLE_TYPES)[iv_tt[idx]]),
        "j": pa.array(j_sel.astype(np.int32)),
        "time_bucket": pa.array(np.where(prime_sel, "prime", "off_peak")),
        "source": pa.array(np.where(is_base, "baseline", "drop")),
        "is_release": pa.array(rel[idx]),
        "opened_lo": pa.array(np.where(is_base, np.datetime64("NaT", "us"), ts(opened_lo_s))),
        "opened_hi": pa.array(ts(opened_hi_s)),
        "closed_lo": pa.array(ts(closed_lo_s)),
        "closed_hi": pa.array(ts(closed_hi_s)),
        "end_reason": pa.array(np.where(expired[idx], "expired", "closed")),
        "still_open": pa.array(still_open[idx]),
        "opened_local": pa.array(ts(to_local_s(opened_hi_s))),
        "closed_local": pa.array(ts(to_local_s(closed_hi_s))),
        "bucket_date": pa.array(bdate_sel),
    })
    jt = pa.table({"j": pa.array(np.arange(nJ, dtype=np.int32)), "bucket_id": [x[0] for x in J],
                   "time_slot": [x[2] for x in J]})

    # ---- poll ledger -------------------------------------------------------------------------
    k_hi = np.minimum(kb, (now_s - j_off) // P)
    n_polls = np.maximum(0, k_hi - ka + 1)
    pj = np.repeat(np.arange(nJ), n_polls)
    pk = np.concatenate([np.arange(a, b + 1) for a, b in zip(ka, k_hi, strict=True) if b >= a]) if n_polls.sum() else np.zeros(0, np.int64)
    p_s = sec(pk, pj)
    p_trusted = ~((pk >= ko0[pj]) & (pk < ko1[pj]))
    p_phase = np.where(pk - ka[pj] < 3, "calibration", "live")
    nf = int(len(pk) * fail_share)
    fsel = rng.choice(len(pk), nf, replace=False) if nf and len(pk) else np.zeros(0, np.int64)
    f_j, f_s = pj[fsel], p_s[fsel] + P // 3
    keepf = f_s <= now_s
    f_j, f_s = f_j[keepf], f_s[keepf]
    outcomes = np.array(["server_error", "rate_limited", "timeout", "challenge"])
    all_j = np.concatenate([pj, f_j])
    all_s = np.concatenate([p_s, f_s])
    all_tr = np.concatenate([p_trusted, np.zeros(len(f_j), bool)])
    all_out = np.concatenate([np.where(p_trusted, "ok", "server_error"), outcomes[rng.integers(0, 4, len(f_j))]])
    all_phase = np.concatenate([p_phase, np.full(len(f_j), "live")])
    lat = rng.gamma(2.0, 150.0, len(all_j))
    ledger = pa.table({
        "j": pa.array(all_j.astype(np.int32)),
        "started_at": pa.array(ts(all_s)),
        "finished_at": pa.array(ts(all_s) + (lat * 1000).astype("timedelta64[us]")),
        "phase": pa.array(all_phase), "trusted": pa.array(all_tr), "outcome": pa.array(all_out),
        "latency_ms": pa.array(lat),
        "party_size": pa.array(np.array([x[4] for x in J], dtype=np.int16)[all_j]),
    })

    # ---- venues ----------------------------------------------------------------------------------
    vt = pa.table({
        "provider": [PROVIDER] * V, "venue_id": pa.array(vid), "name": names,
        "neighborhood": pa.array(np.array(NEIGHBORHOODS)[hood]), "price_range": pa.array(price.astype(np.int16)),
        "cuisine": pa.array(np.array(CUISINES)[cuisine]), "tz": [tz] * V,
        "lat": pa.array(40.70 + rng.uniform(0, 0.12, V)), "lon": pa.array(-74.02 + rng.uniform(0, 0.10, V)),
        "first_seen_at": pa.array(np.full(V, t0_us)), "last_seen_at": pa.array(np.full(V, np.datetime64(now, "us"))),
    })

    today_local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()
    con = connect(path)
    con.execute("SET enable_progress_bar = false")
    # Insert order does not matter here (every reader sorts or groups): lets big INSERTs run in parallel.
    con.execute("SET preserve_insertion_order = false")
    try:
        migrate(con)
        con.register("syn_iv", iv)
        con.register("syn_j", jt)
        con.register("syn_ledger", ledger)
        con.register("syn_venues", vt)
        # Bulk-load the big keyed tables without their key, then add it: building the ART key in
        # one pass is ~3x faster than maintaining it row by row (measured: 1M string keys 1.0 s vs
        # 2.8 s). The re-created tables keep every column and type; NOT NULL checks are dropped.
        for t in BIG_TABLES:  # identifiers from the fixed allow-list BIG_TABLES
            con.execute(f"CREATE TABLE syn_tmp_{t} AS SELECT * FROM {t} LIMIT 0")  # noqa: S608
            con.execute(f"DROP TABLE {t}")
            con.execute(f"ALTER TABLE syn_tmp_{t} RENAME TO {t}")
        con.execute("BEGIN")
        con.execute("INSERT INTO venues SELECT * FROM syn_venues")
        # interval rows with their string ids built in DuckDB
        con.execute("""
            CREATE TEMP TABLE syn_iv2 AS
            SELECT i.*, j.bucket_id,
                   make_time(0, 0, 0) + to_microseconds(i.slot_time_us) AS slot_time,
                   concat_ws('|', 'resy', i.venue_id, strftime(i.slot_date, '%Y-%m-%d'),
                             CAST(make_time(0, 0, 0) + to_microseconds(i.slot_time_us) AS VARCHAR),
                             i.party_size, i.table_type, strftime(i.opened_hi, '%Y-%m-%dT%H:%M:%S')) AS interval_id,
                   concat_ws('|', 'resy', j.bucket_id, i.party_size, strftime(i.opened_hi, '%Y-%m-%dT%H:%M:%S')) AS open_poll,
                   concat_ws('|', 'resy', j.bucket_id, i.party_size, strftime(i.closed_hi, '%Y-%m-%dT%H:%M:%S')) AS close_poll
            FROM syn_iv i JOIN syn_j j USING (j)""")
        # overlapping duplicates of one interval id: keep one (partitioned on the id's numeric parts,
        # which is what the id is made of: hashing them is much cheaper than the long string)
        con.execute("""
            CREATE TEMP TABLE syn_iv3 AS
            SELECT * EXCLUDE (rn) FROM (
                SELECT *, row_number() OVER (PARTITION BY venue_id, slot_date, slot_time_us, party_size, table_type,
                                                          opened_hi ORDER BY closed_hi) AS rn FROM syn_iv2)
            WHERE rn = 1""")
        # still-open: one per slot key (the latest); earlier overlapping still-open ones dropped
        con.execute("""
            DELETE FROM syn_iv3 WHERE still_open AND interval_id IN (
                SELECT interval_id FROM (
                    SELECT interval_id, row_number() OVER (PARTITION BY venue_id, slot_date, slot_time, party_size,
                        table_type ORDER BY opened_hi DESC) AS rn FROM syn_iv3 WHERE still_open) WHERE rn > 1)""")
        con.execute("""
            INSERT INTO slot_intervals
            SELECT interval_id, 'resy', venue_id, slot_date, slot_time, party_size, table_type, bucket_id,
                   time_bucket, source, is_release, opened_lo, opened_hi, closed_lo, closed_hi, end_reason,
                   epoch(closed_hi) - epoch(opened_hi), opened_local,
                   coalesce(closed_hi, closed_lo)   -- ended_at: the poll that saw the end
            FROM syn_iv3 WHERE NOT still_open
            -- in the order the collector appends them: each poll writes the intervals it saw end
            ORDER BY coalesce(closed_hi, closed_lo), interval_id""")
        con.execute("""
            INSERT INTO open_slots
            SELECT 'resy', venue_id, slot_date, slot_time, party_size, table_type, bucket_id, interval_id, source,
                   opened_lo, opened_hi, is_release
            FROM syn_iv3 WHERE still_open""")
        con.execute("""
            INSERT INTO availability_events
            SELECT interval_id || '|' || CASE WHEN source = 'baseline' THEN 'BASELINE_AVAILABLE' ELSE 'NEW_DROP' END,
                   CASE WHEN source = 'baseline' THEN 'BASELINE_AVAILABLE' ELSE 'NEW_DROP' END,
                   'resy', venue_id, slot_date, slot_time, party_size, table_type, bucket_id, bucket_date,
                   time_bucket, interval_id, opened_hi, opened_local, opened_lo, NULL, is_release, open_poll
            FROM syn_iv3
            UNION ALL
            SELECT interval_id || '|' || CASE WHEN end_reason = 'expired' THEN 'EXPIRED' ELSE 'CLOSED' END,
                   CASE WHEN end_reason = 'expired' THEN 'EXPIRED' ELSE 'CLOSED' END,
                   'resy', venue_id, slot_date, slot_time, party_size, table_type, bucket_id, bucket_date,
                   time_bucket, interval_id, closed_hi, closed_local, closed_lo,
                   CASE WHEN end_reason = 'closed' THEN epoch(closed_hi) - epoch(opened_hi) END, is_release, close_poll
            FROM syn_iv3 WHERE NOT still_open""")
        con.execute("""
            CREATE TEMP TABLE syn_counts AS
            SELECT poll_id, count(*) FILTER (WHERE k = 'N') AS nd, count(*) FILTER (WHERE k = 'C') AS nc,
                   count(*) FILTER (WHERE k = 'E') AS ne
            FROM (SELECT open_poll AS poll_id, CASE WHEN source = 'drop' THEN 'N' ELSE 'B' END AS k FROM syn_iv3
                  UNION ALL
                  SELECT close_poll, CASE WHEN end_reason = 'closed' THEN 'C' ELSE 'E' END FROM syn_iv3 WHERE NOT still_open)
            GROUP BY poll_id""")
        con.execute("""
            INSERT INTO poll_ledger (poll_id, provider, bucket_id, party_size, started_at, finished_at, phase, trusted,
                                     outcome, detail, http_status, pages, requests, n_new_drop, n_closed, n_expired,
                                     latency_ms)
            SELECT concat_ws('|', 'resy', j.bucket_id, l.party_size, strftime(l.started_at, '%Y-%m-%dT%H:%M:%S')),
                   'resy', j.bucket_id, l.party_size, l.started_at, l.finished_at, l.phase, l.trusted, l.outcome,
                   CASE WHEN l.trusted THEN NULL ELSE 'synthetic failure' END,
                   CASE l.outcome WHEN 'ok' THEN 200 WHEN 'server_error' THEN 503 WHEN 'rate_limited' THEN 429
                                  WHEN 'challenge' THEN 403 END,
                   CASE WHEN l.trusted THEN 1 ELSE 0 END, 1,
                   coalesce(c.nd, 0), coalesce(c.nc, 0), coalesce(c.ne, 0), l.latency_ms
            FROM syn_ledger l JOIN syn_j j USING (j)
            LEFT JOIN syn_counts c
              ON c.poll_id = concat_ws('|', 'resy', j.bucket_id, l.party_size, strftime(l.started_at, '%Y-%m-%dT%H:%M:%S'))""")
        con.execute("""
            INSERT INTO venue_dates_seen
            SELECT 'resy', venue_id, slot_date, first_seen, count(*) FILTER (WHERE opened_hi = first_seen)
            FROM (SELECT venue_id, slot_date, opened_hi, min(opened_hi) OVER (PARTITION BY venue_id, slot_date) AS first_seen
                  FROM syn_iv3)
            GROUP BY venue_id, slot_date, first_seen""")
        con.execute("""
            INSERT INTO buckets (bucket_id, party_size, bucket_date, time_slot, time_bucket, created_at, calibration_done,
                                 calibration_tries, baseline_ready, baseline_slots, last_poll_at, last_trusted_at)
            SELECT j.bucket_id, l.party_size, CAST(left(j.bucket_id, 10) AS DATE), j.time_slot,
                   CASE WHEN j.time_slot IN ('19:00') THEN 'prime' ELSE 'off_peak' END,
                   min(l.started_at), 3, 3, TRUE,
                   (SELECT count(*) FROM syn_iv3 b WHERE b.j = j.j AND b.party_size = l.party_size AND b.source = 'baseline'),
                   max(l.started_at), max(l.started_at) FILTER (WHERE l.trusted)
            FROM syn_ledger l JOIN syn_j j USING (j)
            WHERE CAST(left(j.bucket_id, 10) AS DATE) >= $today
            GROUP BY j.j, j.bucket_id, j.time_slot, l.party_size""", {"today": today_local})
        con.execute("COMMIT")
        for t, key in BIG_TABLES.items():
            if key is not None:
                con.execute(f"ALTER TABLE {t} ADD PRIMARY KEY ({key})")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]  # noqa: S608
                  for t in ("venues", "buckets", "poll_ledger", "open_slots", "slot_intervals", "availability_events")}
        untrusted = con.execute("SELECT count(*) FROM poll_ledger WHERE NOT trusted").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    return {"path": str(path), "tz": tz, "start": first_day, "end": end, "now": now, "days": days,
            "venues": counts["venues"], "events": counts["availability_events"],
            "intervals": counts["slot_intervals"], "open_slots": counts["open_slots"],
            "polls": counts["poll_ledger"], "untrusted_polls": untrusted, "buckets": counts["buckets"],
            "poll_interval_s": P, "seed": seed,
            "outage": None if o0 < -10**11 else (T0 + timedelta(seconds=o0), T0 + timedelta(seconds=o1)),
            "outage_day": (end - timedelta(days=2)) if (outage and days >= 3) else None}
