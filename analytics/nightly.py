"""The nightly aggregation: per-day and rolling venue/market metrics, raw-event pruning, recompute.

Owns the metric tables of migration 0002; called by collector/nightly.py (the service's nightly
job and the `tablepulse aggregate` / `recompute` commands), benchmarks and tests. Takes a DuckDB
connection and never opens files itself; callers own the transaction (the writer's job runs in one).

Keying: per-day metrics key on the market-local day on which a transition was OBSERVED (a drop on
the day of its first trusted poll, a close on the day of the first poll without it, a censored end
on the day it was recorded: slot_intervals.ended_at, the poll after the gap or the nightly run that
retired the bucket; an interval whose end was recorded later is simply still open at the day's end). A day is complete once it is over, so the run for day D is final and
re-running it is a no-op. Keying on the bucket date instead would leave every day open for two
weeks (its buckets are polled 14 days ahead) and make "yesterday" a moving number.

Every metric is computed from slot_intervals + open_slots + poll_ledger, which are kept forever;
availability_events (raw) are not read, so `recompute` can rebuild everything after a definition
changes. The prune step still deletes raw events only for days already aggregated
(day_quality has the day), so no raw event ever leaves before its day's metrics exist.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.sql_loader import _uses, run, run_script, sql
from analytics.survival import km_binned_t

Progress = Callable[[int, int, str], None]

DEFAULT_MAX_GAP_S = 3600.0    # a gap between two trusted polls longer than this is not observed time
DEFAULT_PRIME_SLOTS = ("19:00",)
DEFAULT_GUARD_MINUTES = 60    # Settings.expiry_guard_minutes: a bucket is watched until slot time - this
WINDOWS = (7, 14)
DAILY_TABLES = ("day_quality", "venue_daily", "venue_daily_hist", "market_daily", "supply_daily",
                "market_daily_hist")
ROLLING_TABLES = ("venue_rolling", "venue_rolling_party", "market_rolling", "supply_compression")


def _one(con: duckdb.DuckDBPyConnection, q: str, params: dict[str, Any] | None = None) -> Any:
    row = con.execute(q, params or {}).fetchone()
    return None if row is None else row[0]


def _np(col: pa.Array | pa.ChunkedArray, dtype: Any = np.int64) -> np.ndarray:
    """A null-free numeric / bool / temporal Arrow column as a numpy array of ``dtype``.

    Reads the Arrow buffer directly: pyarrow's own to_numpy() imports pandas, which costs ~1 s in
    a fresh process (the `aggregate` command, the bench's child) -- a fifth of a one-day run.
    Temporal columns come out as their integer storage (timestamp[us] -> us, date32 -> days).
    """
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    typ = arr.type
    if pa.types.is_boolean(typ) or pa.types.is_decimal(typ):
        arr = pc.cast(arr, pa.int8() if pa.types.is_boolean(typ) else pa.float64())
    elif pa.types.is_timestamp(typ) or pa.types.is_date64(typ):
        arr = arr.view(pa.int64())
    elif pa.types.is_date32(typ):
        arr = arr.view(pa.int32())
    assert arr.null_count == 0
    np_t = arr.type.to_pandas_dtype()
    out = np.frombuffer(arr.buffers()[1], dtype=np_t, count=len(arr) + arr.offset)[arr.offset:]
    return out.astype(dtype, copy=False)


_PA_TYPES = {np.dtype(np.int16): pa.int16(), np.dtype(np.int32): pa.int32(), np.dtype(np.int64): pa.int64(),
             np.dtype(np.float64): pa.float64(), np.dtype("datetime64[us]"): pa.timestamp("us")}


def _pa(x: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """A numpy array as an Arrow array built from its buffers (mask True = null). pa.array(ndarray)
    imports pandas (~1 s in a fresh process); this does not. Types: bool, int16/32/64, float64,
    datetime64[us], datetime64[D] (-> date32)."""
    validity = None if mask is None else pa.py_buffer(np.packbits(~mask, bitorder="little"))
    if x.dtype == np.bool_:
        typ, data = pa.bool_(), np.packbits(x, bitorder="little")
    elif x.dtype == np.dtype("datetime64[D]"):
        typ, data = pa.date32(), x.astype(np.int64).astype(np.int32)
    else:
        typ, data = _PA_TYPES[x.dtype], np.ascontiguousarray(x)
    return pa.Array.from_buffers(typ, len(x), [validity, pa.py_buffer(data)])


_TIME_BUCKETS = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 8, 13], dtype=np.int32)),
                                                        pa.py_buffer(b"off_peakprime")])   # pa.array() imports pandas


def aggregate_range(con: duckdb.DuckDBPyConnection, start: date, end: date, *, tz: str, min_sample: int,
                    today: date | None = None, prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS,
                    max_gap_s: float = DEFAULT_MAX_GAP_S,
                    guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """(Re)write the per-day tables for the local days start..end inclusive, in one pass.

    One read of the range's polls (nightly_polls.sql) and one of its intervals
    (nightly_intervals.sql, compact columns); every per-day metric is then computed in numpy over
    those arrays (dense group indexes, bincount, a few packed int64 sorts) and written with one
    delete-then-insert per table (nightly_write.sql). Definitions: the table comments of
    collector/store/migrations/0002_metrics.sql; the SQL formulation this replaced is in git history
    (nightly_daily.sql), and tests/analytics/test_nightly.py pins the values by hand.

    ``today`` is the local date of the run (kept for callers; an expiry at bucket retirement is
    recorded by the prune that follows, so it does not change the range's facts). Default: end + 1.
    Rolling tables are not touched (see refresh_rolling). Returns rows written per table.
    """
    if end < start:
        return {t: 0 for t in DAILY_TABLES}
    d0, d1 = start, end + timedelta(days=1)
    run_script(con, "nightly_prepare", d0=d0, d1=d1, tz=tz)
    rng = _Days(con.execute("SELECT metric_date, weekday, t0, t1 FROM nd_days ORDER BY metric_date").fetchall())
    polls = _polls(con, rng, list(prime_slots), float(max_gap_s), tz, guard_minutes)
    ven = _arrow(con, "nightly_venues")
    out_tables = _daily(con, rng, polls, ven, tz=tz, min_sample=int(min_sample), prime_slots=list(prime_slots),
                        max_gap_s=float(max_gap_s))
    replaced = int(run(con, "nightly_counts", d0=d0, d1=d1).fetchall()[0][0])
    names = [f"nd_out_{t}" for t in DAILY_TABLES]
    try:
        for t, nm in zip(DAILY_TABLES, names, strict=True):
            con.register(nm, out_tables[t])
        run_script(con, "nightly_write", d0=d0, d1=d1)
    finally:
        for nm in names:
            con.unregister(nm)
        con.execute("DROP TABLE IF EXISTS temp.nd_days")
    out: dict[str, Any] = {t: out_tables[t].num_rows for t in DAILY_TABLES}
    out["replaced"] = replaced
    return out


class _Days:
    """The local days of one aggregate_range call: dates, ISO weekdays, [t0, t1) as naive-UTC us."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.n = len(rows)
        self.md = np.array([r[0] for r in rows], dtype="datetime64[D]")
        self.wd = np.array([r[1] for r in rows], dtype=np.int16)
        self.t0 = np.array([r[2] for r in rows], dtype="datetime64[us]").astype(np.int64)
        self.t1 = np.array([r[3] for r in rows], dtype="datetime64[us]").astype(np.int64)
        self.T0, self.T1 = rows[0][2], rows[-1][3]

    def day(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Day index of each instant (us) and whether it lies in the range at all."""
        idx = np.searchsorted(self.t1, t, side="right")
        ok = (t >= self.t0[0]) & (t < self.t1[-1])
        return np.minimum(idx, self.n - 1), ok


def _polls(con: duckdb.DuckDBPyConnection, rng: _Days, prime_slots: list[str], max_gap_s: float, tz: str,
           guard_minutes: int) -> dict[str, Any]:
    """The range's polls (nightly_polls.sql) and its gaps, in numpy.

    Keys k = the (bucket, party size) pairs polled in the range, numbered in (bucket_id, party_size)
    order. Gap rows: one per TRUSTED poll of a key started in the range before the bucket's expiry
    guard (slot time - guard_minutes, local: later polls judge nothing, slots leaving then are
    expiries), sorted by (k, t). A gap ends at the next trusted poll of the same key inside the
    poll's local day, so a day's gaps depend only on polls inside it (the nightly run at midnight and
    a later recompute agree). With no such poll, the stretch to midnight is observed when it is short
    (<= max_gap_s), excluded when untrusted polls lie in it (an outage), and otherwise simply not
    watched (polling of the bucket ended): `has_end` False, neither observed nor excluded. A gap is
    valid (observed time) when it has an end, no untrusted poll of the key lies inside it and it is
    at most max_gap_s long. Replaces three partitioned window passes in SQL (~1 s on 225k polls).
    """
    polls = _arrow(con, "nightly_polls", t0=rng.T0, t1=rng.T1)
    bid = polls.column("bucket_id").combine_chunks().dictionary_encode()
    names = bid.dictionary.to_pylist()
    codes = _np(bid.indices)
    party = _np(polls.column("party_size"))
    t = _np(polls.column("started_at").cast(pa.timestamp("us")))
    tr = _np(polls.column("trusted"), bool)
    order_names = np.argsort(np.array(names, dtype=object)) if names else np.zeros(0, np.int64)
    rank = np.empty(len(names), dtype=np.int64)
    rank[order_names] = np.arange(len(names))
    kraw = rank[codes] * 65536 + party if len(codes) else np.zeros(0, np.int64)
    uk, kinv = np.unique(kraw, return_inverse=True)
    kinv = kinv.ravel().astype(np.int64)
    sorted_names = [names[i] for i in order_names]
    k_name = [sorted_names[int(u) // 65536] for u in uk]
    k_party = (uk % 65536).astype(np.int64)
    k_prime = np.array([n[11:16] in prime_slots for n in k_name], dtype=bool)
    zone = ZoneInfo(tz)
    k_guard = np.array([np.datetime64(datetime.fromisoformat(f"{n[:10]}T{n[11:16]}").replace(tzinfo=zone)
                                      .astimezone(UTC).replace(tzinfo=None) - timedelta(minutes=guard_minutes), "us")
                        .astype(np.int64) for n in k_name], dtype=np.int64)
    pday, _ = rng.day(t)
    keep = t < k_guard[kinv] if len(t) else np.zeros(0, bool)
    key, tt, trk = kinv[keep], t[keep], tr[keep]
    order = np.lexsort((tt, key))
    key, tt, trk = key[order], tt[order], trk[order]
    ti = np.flatnonzero(trk)
    g_k, g_t = key[ti], tt[ti]
    g_day, _ = rng.day(g_t)
    day_end = np.minimum(rng.t1[g_day], k_guard[g_k])
    nxt = np.append(g_t[1:], np.iinfo(np.int64).max)
    has_next = np.append(g_k[1:] == g_k[:-1], False) & (nxt < day_end)
    end = np.where(has_next, nxt, day_end)
    # untrusted polls of the same key inside (t, end) make the gap invalid
    grp = np.cumsum(trk) - 1                       # index into ti of the trusted poll at or before
    ui = np.flatnonzero(~trk)
    g_u = grp[ui]
    gi = np.maximum(g_u, 0)
    own = (g_u >= 0) & (g_k[gi] == key[ui]) & (tt[ui] < end[gi]) if len(ti) else np.zeros(len(ui), dtype=bool)
    untrusted_after = np.bincount(g_u[own], minlength=len(ti))
    gap_s = (end - g_t) / 1e6
    has_end = has_next | (untrusted_after > 0) | (gap_s <= max_gap_s)
    valid = has_end & (untrusted_after == 0) & (gap_s <= max_gap_s)
    return {"k_name": k_name, "k_party": k_party, "k_prime": k_prime, "n_keys": len(uk),
            "p_day": pday, "p_key": kinv, "p_trusted": tr,
            "g_k": g_k, "g_t": g_t, "g_day": g_day, "gap_s": gap_s, "has_end": has_end, "valid": valid,
            "valid_s": np.where(valid, gap_s, 0.0)}


def _dict_col(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(_pa(codes.astype(np.int32)), values)


def _strings(values: list[str]) -> pa.Array:
    """A small list of Python strings as an Arrow string array (pa.array() would import pandas)."""
    data = [v.encode() for v in values]
    offs = np.zeros(len(data) + 1, dtype=np.int32)
    offs[1:] = np.cumsum([len(b) for b in data]) if data else []
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offs), pa.py_buffer(b"".join(data))])


def _packed_sort(major: np.ndarray, minor: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(major, minor) sorted lexicographically via ONE np.sort of packed int64 (AVX-512 sorts 5M
    int64 in ~0.15 s here; an argsort/lexsort takes 0.7-1 s). None when they do not fit 63 bits."""
    if len(major) == 0:
        return major, minor
    if major.min() < 0 or minor.min() < 0:
        return None
    mb = int(major.max()).bit_length()
    nb = int(minor.max()).bit_length()
    if mb + nb > 63:
        return None
    p = (major.astype(np.int64) << nb) | minor.astype(np.int64)
    p.sort()
    return p >> nb, p & ((1 << nb) - 1)


def _bin(d: np.ndarray) -> np.ndarray:
    """duration_bins.bin of durations in seconds (0002): 0 below 1 s, else floor(20 log10 d) + 1, <= 141."""
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.floor(20 * np.log10(np.maximum(d, 1.0))) + 1
    return np.where(d < 1, 0, np.minimum(141, b)).astype(np.int64)


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and where each run starts."""
    if len(sorted_keys) == 0:
        return sorted_keys, np.zeros(0, dtype=np.int64)
    new = np.ones(len(sorted_keys), dtype=bool)
    new[1:] = sorted_keys[1:] != sorted_keys[:-1]
    starts = np.flatnonzero(new)
    return sorted_keys[starts], starts


def _dense_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) for non-negative keys of a modest range, in O(n + range)
    (numpy 2's np.unique hashes: ~2 s on 2M keys here; this is ~20 ms). Sort-based beyond 64M."""
    if len(keys) == 0:
        return keys.astype(np.int64), keys.astype(np.int64)
    top = int(keys.max()) + 1
    if top > 1 << 26:
        u = _runs(np.sort(keys))[0]
        return u, np.searchsorted(u, keys)
    seen = np.zeros(top, dtype=bool)
    seen[keys] = True
    u = np.flatnonzero(seen)
    lut = np.cumsum(seen) - 1
    return u, lut[keys]


def _daily(con: duckdb.DuckDBPyConnection, rng: _Days, P: dict[str, Any], ven: pa.Table, *, tz: str,
           min_sample: int, prime_slots: list[str], max_gap_s: float) -> dict[str, pa.Table]:
    """Every per-day table of the range as Arrow tables (columns in table order)."""
    ND = rng.n
    # -- venues: the table's rows, then venues seen only in intervals (not in the venues table)
    V = ven.num_rows
    v_prov = ven.column("provider").combine_chunks().dictionary_encode()
    prov_names = v_prov.dictionary.to_pylist()
    vx = pa.table({"provider": ven.column("provider"), "venue_id": ven.column("venue_id"),
                   "vi": _pa(np.arange(V, dtype=np.int32))})
    keys = pa.table({"bucket_id": _strings(P["k_name"]), "party_size": _pa(P["k_party"].astype(np.int16)),
                     "k": _pa(np.arange(P["n_keys"], dtype=np.int32))})
    gaps_t = pa.table({"k": _pa(P["g_k"].astype(np.int32)), "t": _pa(P["g_t"].astype("datetime64[us]")),
                       "i": _pa(np.arange(len(P["g_k"]), dtype=np.int32))})
    con.register("nd_venues", vx)
    con.register("nd_keys", keys)
    con.register("nd_gaps_t", gaps_t)
    try:
        iv = _arrow(con, "nightly_intervals", t0=rng.T0, t1=rng.T1, max_gap_s=max_gap_s, prime_slots=prime_slots, tz=tz)
        base = run(con, "nightly_supply_base", t0=rng.T0).fetchall()
    finally:
        con.unregister("nd_venues")
        con.unregister("nd_keys")
        con.unregister("nd_gaps_t")
    vi = _np(iv.column("vi"))
    v_pc = _np(v_prov.indices)
    v_id = _np(ven.column("venue_id"))
    unk = np.flatnonzero(vi < 0)
    if len(unk):                  # venues missing from the venues table: extra indexes V, V+1, ...
        xp = iv.column("xprov").take(_pa(unk)).to_pylist()
        xv = _np(iv.column("xvid"))[unk]
        pairs = sorted(set(zip(xp, xv.tolist(), strict=True)))
        idx = {p: V + i for i, p in enumerate(pairs)}
        vi[unk] = [idx[p] for p in zip(xp, xv.tolist(), strict=True)]
        for p, _v in pairs:
            if p not in prov_names:
                prov_names.append(p)
        v_pc = np.concatenate([v_pc, [prov_names.index(p) for p, _v in pairs]]).astype(np.int64)
        v_id = np.concatenate([v_id, [v for _p, v in pairs]]).astype(np.int64)
    NV = len(v_id)
    prov_dict = _strings(prov_names)
    # neighborhood / price per venue: '(unknown)' and NULL (code 0) when the venue table has none
    hood_col = ven.column("neighborhood").combine_chunks()
    hood_names = ["(unknown)"] + sorted({h for h in hood_col.to_pylist() if h is not None and h != "(unknown)"})
    hmap = {h: i for i, h in enumerate(hood_names)}
    v_hood = np.zeros(NV, dtype=np.int64)
    v_hood[:V] = [hmap.get(h, 0) if h is not None else 0 for h in hood_col.to_pylist()]
    pr = ven.column("price_range").combine_chunks()
    v_price = np.zeros(NV, dtype=np.int64)       # price_range + 1; 0 = NULL
    if V:
        v_price[:V] = np.where(_np(pr.is_null(), bool), 0, _np(pr.fill_null(0)) + 1)
    NH, NPR = len(hood_names), int(v_price.max()) + 1 if NV else 1

    # -- party sizes (polls and intervals) -> dense index
    party = _np(iv.column("party_size"))
    psizes = np.union1d(np.unique(P["k_party"]), np.flatnonzero(np.bincount(party)) if len(party) else [])
    psizes = psizes.astype(np.int64)
    NP = max(len(psizes), 1)
    plut = np.zeros(int(psizes.max()) + 1 if len(psizes) else 1, dtype=np.int64)
    plut[psizes] = np.arange(len(psizes))
    pidx = plut[party]
    prime = _np(iv.column("prime"), bool)
    NG = NV * ND * 2 * NP

    def gidx(v: np.ndarray, day: np.ndarray, pr_: np.ndarray, pi: np.ndarray) -> np.ndarray:
        return ((v * ND + day) * 2 + pr_) * NP + pi

    a = _np(iv.column("a").cast(pa.timestamp("us")))
    z = _np(iv.column("z").cast(pa.timestamp("us")))
    # -- drops (NEW_DROP on the day of opened_hi)
    is_drop = _np(iv.column("is_drop"), bool)
    rel = _np(iv.column("is_release"), bool)
    a_day, a_in = rng.day(a)
    md = np.flatnonzero(is_drop & a_in)
    g_drop = gidx(vi[md], a_day[md], prime[md], pidx[md])
    drops = np.bincount(g_drop, minlength=NG)
    rel_d = rel[md]
    release = np.bincount(g_drop[rel_d], minlength=NG)
    # -- CLOSED on the day of closed_hi; the timed ones are the time-to-close sample
    c = _np(iv.column("c").cast(pa.timestamp("us")))
    c_day, c_in = rng.day(c)
    mc = np.flatnonzero(_np(iv.column("closed"), bool) & c_in)
    g_cl = gidx(vi[mc], c_day[mc], prime[mc], pidx[mc])
    closed = np.bincount(g_cl, minlength=NG)
    timed = _np(iv.column("timed"), bool)[mc]
    g_t = g_cl[timed]
    closed_timed = np.bincount(g_t, minlength=NG)
    dur_all = _np(iv.column("dur"), np.float64)
    dur = dur_all[mc][timed]
    has_d = ~np.isnan(dur)
    g_td, dur_d = g_t[has_d], dur[has_d]
    n_dur = np.bincount(g_td, minlength=NG)
    sum_close = np.bincount(g_td, weights=dur_d, minlength=NG)
    # median (quantile_cont 0.5) per group: sort by (group, duration) once. Durations are whole
    # microseconds / 1e6 (the collector's total_seconds()), so the packed integer sort is exact.
    us = np.rint(dur_d * 1e6)
    ps = _packed_sort(g_td, us.astype(np.int64)) if bool(np.all(us / 1e6 == dur_d)) else None
    if ps is not None:
        sg, sd = ps[0], ps[1] / 1e6
    else:                         # durations that are not whole microseconds: exact, slower

        o = np.lexsort((dur_d, g_td))
        sg, sd = g_td[o], dur_d[o]
    st = np.cumsum(n_dur) - n_dur
    has_m = np.flatnonzero(n_dur)
    lo = st[has_m] + (n_dur[has_m] - 1) // 2
    hi = st[has_m] + n_dur[has_m] // 2
    median = np.full(NG, np.nan)
    median[has_m] = sd[lo] + (sd[hi] - sd[lo]) * 0.5
    # -- censored ends (on the day the end was recorded: ended_at), at closed_lo - opened_hi
    e = _np(iv.column("e").cast(pa.timestamp("us")))
    e_day, e_in = rng.day(e)
    ms = np.flatnonzero(_np(iv.column("censored"), bool) & e_in)
    g_ce = gidx(vi[ms], e_day[ms], prime[ms], pidx[ms])
    censored = np.bincount(g_ce, minlength=NG)
    # -- histogram rows (group, bin): closed from the sorted durations, censored by one packed sort
    hk_c = sg * 142 + _bin(sd)
    brk = np.flatnonzero(np.diff(hk_c)) + 1 if len(hk_c) else np.zeros(0, np.int64)
    starts = np.concatenate([[0], brk]).astype(np.int64) if len(hk_c) else np.zeros(0, np.int64)
    kc = hk_c[starts]
    nc = np.diff(np.append(starts, len(hk_c)))
    sc = np.add.reduceat(sd, starts) if len(starts) else np.zeros(0)
    hk_s = np.sort(g_ce * 142 + _bin((z[ms] - a[ms]) / 1e6))
    ks, s_st = _runs(hk_s)
    ns = np.diff(np.append(s_st, len(hk_s)))
    hk = _runs(np.sort(np.concatenate([kc, ks])))[0]
    h_closed = np.zeros(len(hk), dtype=np.int64)
    h_cens = np.zeros(len(hk), dtype=np.int64)
    h_sum = np.zeros(len(hk))
    ic = np.searchsorted(hk, kc)
    h_closed[ic], h_sum[ic] = nc, sc
    h_cens[np.searchsorted(hk, ks)] = ns

    # -- open time (index space of the gap rows)
    g_k, g_tt, g_day = P["g_k"], P["g_t"], P["g_day"]
    NGAP = len(g_k)
    span = int(rng.t1[-1] - rng.t0[0]) + 2
    base_t = int(rng.t0[0])
    comp = g_k * span + (g_tt - base_t)
    cumv = np.concatenate([[0.0], np.cumsum(P["valid_s"])])
    k = _np(iv.column("k"))
    # gap index of opened_hi / closed_lo: the exact poll (hash-joined in SQL: nd_gaps_t), else the
    # first gap at or after opened_hi / the last one at or before closed_lo of the same key
    ia = _np(iv.column("ia"))
    iz = _np(iv.column("iz"))
    has_k = k >= 0
    miss = np.flatnonzero(has_k & (ia < 0))
    ia[miss] = np.searchsorted(comp, k[miss] * span + np.clip(a[miss] - base_t, 0, span - 1), side="left")
    miss = np.flatnonzero(has_k & (iz < 0))
    iz[miss] = np.searchsorted(comp, k[miss] * span + np.clip(z[miss] - base_t, -1, span - 1), side="right") - 1
    rows = np.flatnonzero(has_k & (ia <= iz) & (iz >= 0))
    ia, iz = ia[rows], iz[rows]
    B = max(int(NGAP).bit_length(), 1)
    vp = vi[rows] * 2 + prime[rows]
    srt = _packed_sort(vp, (ia << B) | iz)
    if srt is not None:
        s_vp, s_ai = srt
        s_ia, s_iz = s_ai >> B, s_ai & ((1 << B) - 1)
    else:
        o = np.lexsort((iz, ia, vp))
        s_vp, s_ia, s_iz = vp[o], ia[o], iz[o]
    n_iv = len(s_vp)
    if n_iv:
        acc = np.maximum.accumulate((s_vp << B) | s_iz)
        new = np.ones(n_iv, dtype=bool)
        new[1:] = ((acc[:-1] >> B) != s_vp[1:]) | (s_ia[1:] > (acc[:-1] & ((1 << B) - 1)))
        first = np.flatnonzero(new)
        last = np.append(first[1:], n_iv) - 1
        i_s, i_e, i_vp = s_ia[first], acc[last] & ((1 << B) - 1), s_vp[first]
    else:
        i_s = i_e = i_vp = np.zeros(0, np.int64)
    # open time of an island = valid seconds of the gaps it covers, per day (the gap rows of a key
    # are in time order, so a one-day island is one difference of cumulative sums)
    sd_, ed_ = g_day[i_s], g_day[i_e]
    pk = g_k[i_s]
    one = sd_ == ed_
    meas = cumv[i_e[one] + 1] - cumv[i_s[one]]
    open_s = np.bincount(gidx(i_vp[one] // 2, sd_[one], i_vp[one] % 2, plut[P["k_party"][pk[one]]]),
                         weights=meas, minlength=NG)
    multi = np.flatnonzero(~one)                 # islands across midnight: one piece per day
    if len(multi):
        run_key = g_k * ND + g_day
        rk, rst = _runs(run_key)
        f_tab = np.full(P["n_keys"] * ND, NGAP, dtype=np.int64)
        l_tab = np.full(P["n_keys"] * ND, -1, dtype=np.int64)
        f_tab[rk], l_tab[rk] = rst, np.append(rst[1:], NGAP) - 1
        cnt = ed_[multi] - sd_[multi] + 1
        rep = np.repeat(multi, cnt)
        pday = np.repeat(sd_[multi], cnt) + (np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        p_s = np.maximum(i_s[rep], f_tab[pk[rep] * ND + pday])
        p_e = np.minimum(i_e[rep], l_tab[pk[rep] * ND + pday])
        okp = p_s <= p_e
        meas = np.where(okp, cumv[np.clip(p_e + 1, 0, NGAP)] - cumv[np.clip(p_s, 0, NGAP)], 0.0)
        pv = i_vp[rep]
        open_s += np.bincount(gidx(pv // 2, pday, pv % 2, plut[P["k_party"][pk[rep]]]), weights=meas, minlength=NG)

    # -- polls per day and per (day, time bucket, party size); observed time
    p_day, p_key, p_tr = P["p_day"], P["p_key"], P["p_trusted"]
    d_tr = np.bincount(p_day[p_tr], minlength=ND)
    d_un = np.bincount(p_day[~p_tr], minlength=ND)
    comb = (p_day * 2 + P["k_prime"][p_key]) * NP + plut[P["k_party"][p_key]]
    c_tr = np.bincount(comb[p_tr], minlength=ND * 2 * NP)
    c_un = np.bincount(comb[~p_tr], minlength=ND * 2 * NP)
    g_comb = (g_day * 2 + P["k_prime"][g_k]) * NP + plut[P["k_party"][g_k]]
    c_obs = np.bincount(g_comb, weights=P["valid_s"], minlength=ND * 2 * NP)
    d_obs = np.bincount(g_day, weights=P["valid_s"], minlength=ND)
    excl_s = np.where(~P["valid"] & P["has_end"], P["gap_s"], 0.0)
    d_excl = np.bincount(g_day, weights=excl_s, minlength=ND)
    d_max = np.full(ND, -np.inf)
    he = np.flatnonzero(P["has_end"])
    np.maximum.at(d_max, g_day[he], P["gap_s"][he])
    d_tot = d_tr + d_un
    partial = (d_tr == 0) | (d_un * 20 >= d_tot) | (d_excl >= 0.05 * (d_obs + d_excl))

    out: dict[str, pa.Table] = {}
    out["day_quality"] = pa.table({
        "metric_date": _pa(rng.md), "weekday": _pa(rng.wd),
        "polls_trusted": _pa(d_tr.astype(np.int32)), "polls_untrusted": _pa(d_un.astype(np.int32)),
        "trusted_share": _pa(d_tr / np.maximum(d_tot, 1), mask=d_tot == 0),
        "observed_s": _pa(d_obs), "excluded_s": _pa(d_excl),
        "max_gap_s": _pa(np.where(np.isfinite(d_max), d_max, 0.0), mask=~np.isfinite(d_max)),
        "partial": _pa(partial)})

    # -- venue_daily: every venue known by the day's end x every (time bucket, party size) polled
    combos = np.flatnonzero(c_tr + c_un)
    fs = _np(ven.column("first_seen_at").cast(pa.timestamp("us"))) if V else np.zeros(0, np.int64)
    c_day = combos // (2 * NP)
    elig = [np.flatnonzero(fs < rng.t1[d]) for d in range(ND)]
    n_el = np.array([len(elig[d]) for d in c_day], dtype=np.int64)
    r_v = np.concatenate([elig[d] for d in c_day]) if len(combos) else np.zeros(0, np.int64)
    r_c = np.repeat(combos, n_el)
    r_pi = r_c % NP
    r_pr = (r_c // NP) % 2
    r_d = r_c // (2 * NP)
    g = gidx(r_v, r_d, r_pr, r_pi)
    obs = c_obs[r_c]
    op = np.minimum(open_s[g], obs)
    nd_ = n_dur[g]
    ct = closed_timed[g]
    out["venue_daily"] = pa.table({
        "provider": _dict_col(v_pc[r_v], prov_dict), "venue_id": _pa(v_id[r_v]),
        "metric_date": _pa(rng.md[r_d]), "weekday": _pa(rng.wd[r_d]),
        "time_bucket": _dict_col(r_pr, _TIME_BUCKETS), "party_size": _pa(psizes[r_pi].astype(np.int16)),
        "drops": _pa(drops[g].astype(np.int32)), "release_drops": _pa(release[g].astype(np.int32)),
        "cancel_drops": _pa((drops[g] - release[g]).astype(np.int32)),
        "closed": _pa(closed[g].astype(np.int32)), "closed_timed": _pa(ct.astype(np.int32)),
        "censored": _pa(censored[g].astype(np.int32)), "sum_close_s": _pa(sum_close[g]),
        "mean_close_s": _pa(sum_close[g] / np.maximum(nd_, 1), mask=nd_ == 0),
        "median_close_s": _pa(np.nan_to_num(median[g]), mask=np.isnan(median[g])),
        "observed_s": _pa(obs), "open_s": _pa(op), "fully_booked_s": _pa(obs - op),
        "polls_trusted": _pa(c_tr[r_c].astype(np.int32)), "polls_untrusted": _pa(c_un[r_c].astype(np.int32)),
        "partial": _pa(partial[r_d]), "n": _pa(ct.astype(np.int32)), "thin": _pa(ct < min_sample)})

    # -- venue_daily_hist (every venue, known or not) and its market sum (market_daily_hist)
    h_g, h_bin = hk // 142, hk % 142
    h_pi, h_r = h_g % NP, h_g // NP
    h_pr, h_r = h_r % 2, h_r // 2
    h_d, h_v = h_r % ND, h_r // ND
    out["venue_daily_hist"] = pa.table({
        "provider": _dict_col(v_pc[h_v], prov_dict), "venue_id": _pa(v_id[h_v]), "metric_date": _pa(rng.md[h_d]),
        "time_bucket": _dict_col(h_pr, _TIME_BUCKETS), "party_size": _pa(psizes[h_pi].astype(np.int16)),
        "bin": _pa(h_bin.astype(np.int16)), "n_closed": _pa(h_closed.astype(np.int32)),
        "n_censored": _pa(h_cens.astype(np.int32)), "sum_s": _pa(h_sum)})
    mk = ((((h_d * 2 + h_pr) * NP + h_pi) * NH + v_hood[h_v]) * NPR + v_price[h_v]) * 142 + h_bin
    umk, inv = _dense_inverse(mk)
    m_cl = np.bincount(inv, weights=h_closed, minlength=len(umk))
    m_ce = np.bincount(inv, weights=h_cens, minlength=len(umk))
    m_su = np.bincount(inv, weights=h_sum, minlength=len(umk))
    m_bin, r = umk % 142, umk // 142
    m_pc, r = r % NPR, r // NPR
    m_h, r = r % NH, r // NH
    m_pi, r = r % NP, r // NP
    m_pr, m_d = r % 2, r // 2
    out["market_daily_hist"] = pa.table({
        "metric_date": _pa(rng.md[m_d]), "time_bucket": _dict_col(m_pr, _TIME_BUCKETS),
        "party_size": _pa(psizes[m_pi].astype(np.int16)), "neighborhood": _dict_col(m_h, _strings(hood_names)),
        "price_range": _pa((m_pc - 1).astype(np.int16), mask=m_pc == 0), "bin": _pa(m_bin.astype(np.int16)),
        "n_closed": _pa(m_cl.astype(np.int64)), "n_censored": _pa(m_ce.astype(np.int64)), "sum_s": _pa(m_su)})

    # -- market_daily: drops per (day, local hour, neighborhood, price range, time bucket, party size)
    hr = _np(iv.column("hr"))[md]
    dv = vi[md]
    price0 = np.maximum(v_price - 1, 0)          # market_daily: NULL price -> 0
    NPR0 = int(price0.max()) + 1 if NV else 1
    sub = ((a_day[md] * 24 + hr) * 2 + prime[md]) * NP + pidx[md]       # (day, hour, tb, party)
    cell = (sub * NH + v_hood[dv]) * NPR0 + price0[dv]
    ucell, cinv = _dense_inverse(cell)
    m_drops = np.bincount(cinv, minlength=len(ucell))
    m_rel = np.bincount(cinv[rel_d], minlength=len(ucell))
    # distinct venue_id per cell: distinct (cell, venue_id) pairs
    n_sub = int(sub.max()) + 1 if len(sub) else 0
    if n_sub * NV <= 1 << 27:                            # distinct (sub-cell, venue) pairs by presence
        pres_ = np.zeros(n_sub * NV, dtype=bool)
        pres_[sub * NV + dv] = True
        pr_sub, pr_v = np.divmod(np.flatnonzero(pres_), NV)
    else:
        pr_sub, pr_v = np.divmod(_runs(np.sort(sub * NV + dv))[0], NV)
    pcell = np.searchsorted(ucell, (pr_sub * NH + v_hood[pr_v]) * NPR0 + price0[pr_v])
    vrank = np.searchsorted(np.sort(v_id), v_id)         # count(DISTINCT venue_id): one id may span providers
    if len(np.unique(vrank)) < NV:
        pcell = _runs(np.sort(pcell * NV + vrank[pr_v]))[0] // NV
    m_ven = np.bincount(pcell, minlength=len(ucell))
    c_pr0, r = ucell % NPR0, ucell // NPR0
    c_h, r = r % NH, r // NH
    c_pi, r = r % NP, r // NP
    c_pr, r = r % 2, r // 2
    c_hr, c_d = r % 24, r // 24
    out["market_daily"] = pa.table({
        "metric_date": _pa(rng.md[c_d]), "weekday": _pa(rng.wd[c_d]), "hour_local": _pa(c_hr.astype(np.int16)),
        "neighborhood": _dict_col(c_h, _strings(hood_names)), "price_range": _pa(c_pr0.astype(np.int16)),
        "time_bucket": _dict_col(c_pr, _TIME_BUCKETS), "party_size": _pa(psizes[c_pi].astype(np.int16)),
        "drops": _pa(m_drops.astype(np.int32)), "release_drops": _pa(m_rel.astype(np.int32)),
        "cancel_drops": _pa((m_drops - m_rel).astype(np.int32)), "venues": _pa(m_ven.astype(np.int32)),
        "partial": _pa(partial[c_d])})

    # -- supply_daily: inventory at the last trusted poll of each (day, bucket, party size)
    if NGAP:
        run_key = g_k * ND + g_day
        lastg = np.flatnonzero(np.append(run_key[1:] != run_key[:-1], True))
    else:
        lastg = np.zeros(0, np.int64)
    cov_n = np.cumsum(np.bincount(ia, minlength=NGAP + 1) - np.bincount(iz + 1, minlength=NGAP + 1))[:NGAP]
    cov_v = np.cumsum(np.bincount(i_s, minlength=NGAP + 1) - np.bincount(i_e + 1, minlength=NGAP + 1))[:NGAP]
    base_n = {(b, int(p)): int(n) for b, p, n in base}
    sk = g_k[lastg]
    s_day = g_day[lastg]
    k_date = np.array([n[:10] for n in P["k_name"]], dtype="datetime64[D]")
    out["supply_daily"] = pa.table({
        "metric_date": _pa(rng.md[s_day]), "bucket_id": _dict_col(sk, _strings(P["k_name"])),
        "party_size": _pa(P["k_party"][sk].astype(np.int16)), "bucket_date": _pa(k_date[sk]),
        "time_bucket": _dict_col(P["k_prime"][sk].astype(np.int64), _TIME_BUCKETS),
        "lead_days": _pa((k_date[sk] - rng.md[s_day]).astype(np.int16)),
        "snapshot_at": _pa(g_tt[lastg].astype("datetime64[us]")),
        "open_slots": _pa(cov_n[lastg].astype(np.int32)), "open_venues": _pa(cov_v[lastg].astype(np.int32)),
        "baseline_slots": _pa(np.array([base_n.get((P["k_name"][i], int(P["k_party"][i])), 0) for i in sk],
                                       dtype=np.int32)),
        "partial": _pa(partial[s_day])})
    return out


def _ident(name: str, allowed: Sequence[str]) -> str:
    """A table name for SQL text: only names from a fixed allow-list ever reach a statement."""
    if name not in allowed:
        raise ValueError(f"table {name!r} is not one of {', '.join(allowed)}")
    return '"' + name + '"'


def _register_temp(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """CREATE OR REPLACE TEMP TABLE <name> from an Arrow table (name from the fixed nd_/rl_ set)."""
    con.register("_arrow_in", table)
    try:
        target = _ident(name, ("rl_km",))
        con.execute("CREATE OR REPLACE TEMP TABLE " + target + " AS SELECT * FROM _arrow_in")  # noqa: S608
    finally:
        con.unregister("_arrow_in")


def _arrow(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> pa.Table:
    """The whole result of a named query as an Arrow table (fully consumed: see the register gotcha)."""
    text = sql(name)
    used = {k: v for k, v in params.items() if _uses(text, k)}
    if set(params) - set(used):
        raise TypeError(f"{name}.sql has no parameter(s) {sorted(set(params) - set(used))}")
    # a relation streams into Arrow; a DB-API result (con.execute) makes an extra copy of the rows
    # first (~260 MB more peak memory for the 10M-event window's intervals)
    out = con.sql(text, params=used or None).to_arrow_table()
    assert isinstance(out, pa.Table)
    return out


def aggregate_day(con: duckdb.DuckDBPyConnection, day: date, *, tz: str, min_sample: int,
                  today: date | None = None, prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS,
                  max_gap_s: float = DEFAULT_MAX_GAP_S,
                  guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """(Re)write one local day of the per-day tables, then the rolling tables as of that day."""
    out = aggregate_range(con, day, day, tz=tz, min_sample=min_sample, today=today,
                          prime_slots=prime_slots, max_gap_s=max_gap_s, guard_minutes=guard_minutes)
    out.update(refresh_rolling(con, day, min_sample=min_sample))
    out["partial"] = bool(_one(con, "SELECT partial FROM day_quality WHERE metric_date = $d", {"d": day}))
    return out


def refresh_rolling(con: duckdb.DuckDBPyConnection, as_of: date, *, min_sample: int,
                    until: date | None = None) -> dict[str, int]:
    """(Re)write the rolling 7/14-day tables for as_of (..until, inclusive) from the per-day tables.

    One read each of the window days' venue_daily, venue_daily_hist and day_quality rows; the
    windows of every as_of slide over them in numpy (_rolling); market_rolling and
    supply_compression are derived in SQL (rolling_write.sql)."""
    until = until or as_of
    a1 = until + timedelta(days=1)
    ven = _Venues(con)
    with ven.registered(con):
        vd = _arrow(con, "rolling_vd", a0=as_of, a1=a1)
        hist = _arrow(con, "rolling_hist", a0=as_of, a1=a1)
    days = run(con, "rolling_days", a0=as_of, a1=a1).fetchall()
    run_script(con, "rolling", a0=as_of, a1=a1)
    n_vr = _insert(con, "venue_rolling", _rolling(ven, vd, hist, days, as_of, a1, int(min_sample)))
    del hist
    _release_memory()
    n_vrp = _insert(con, "venue_rolling_party", _rolling_party(ven, vd, days, as_of, a1, int(min_sample)))
    run_script(con, "rolling_write", a0=as_of, a1=a1, min_sample=int(min_sample))
    small = con.execute("SELECT (SELECT count(*) FROM market_rolling WHERE as_of >= $a AND as_of < $b), "
                        "(SELECT count(*) FROM supply_compression WHERE as_of >= $a AND as_of < $b)",
                        {"a": as_of, "b": a1}).fetchall()[0]
    return {"venue_rolling": n_vr, "venue_rolling_party": n_vrp,
            "market_rolling": int(small[0]), "supply_compression": int(small[1])}


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> int:
    """INSERT an Arrow table (columns in the table's order) into venue_rolling / venue_rolling_party."""
    target = _ident(table, ("venue_rolling", "venue_rolling_party"))
    con.register("_rl_in", rows)
    try:
        con.execute("INSERT INTO " + target + " SELECT * FROM _rl_in")  # noqa: S608 - allow-listed
    finally:
        con.unregister("_rl_in")
    return rows.num_rows


def _release_memory() -> None:
    """Give freed heap memory back to the OS between the big steps (glibc keeps freed blocks of the
    size numpy just used, so a recompute's peak would otherwise be the sum of its steps' peaks)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):      # not glibc: nothing to do
        pass


class _Venues:
    """Venue indexes shared by one run's queries: the venues table's rows in (provider, venue_id)
    order (nightly_venues.sql, registered as temp.nd_venues), then venues met only in metric rows or
    intervals (not in the venues table), numbered on from there by ``resolve``."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.tbl = _arrow(con, "nightly_venues")
        self.V = self.tbl.num_rows
        prov = self.tbl.column("provider").combine_chunks().dictionary_encode()
        self.prov_names: list[str] = prov.dictionary.to_pylist()
        self.pc = _np(prov.indices)
        self.vid = _np(self.tbl.column("venue_id"))
        self._extra: dict[tuple[str, int], int] = {}

    @contextlib.contextmanager
    def registered(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        con.register("nd_venues", pa.table({"provider": self.tbl.column("provider"), "venue_id": self.tbl.column("venue_id"),
                                            "vi": _pa(np.arange(self.V, dtype=np.int32))}))
        try:
            yield
        finally:
            con.unregister("nd_venues")

    def resolve(self, t: pa.Table) -> np.ndarray:
        """Column vi of a query result, with -1 (not in the venues table) replaced by extra indexes."""
        vi = _np(t.column("vi"))
        unk = np.flatnonzero(vi < 0)
        if len(unk):
            xp = t.column("xprov").take(_pa(unk)).to_pylist()
            xv = _np(t.column("xvid"))[unk].tolist()
            for p, v in sorted(set(zip(xp, xv, strict=True))):
                if (p, v) not in self._extra:
                    self._extra[(p, v)] = self.V + len(self._extra)
                    if p not in self.prov_names:
                        self.prov_names.append(p)
                    self.pc = np.append(self.pc, self.prov_names.index(p))
                    self.vid = np.append(self.vid, v)
            vi[unk] = [self._extra[pv] for pv in zip(xp, xv, strict=True)]
        return vi

    @property
    def n(self) -> int:
        return len(self.vid)


def _wsum(c: np.ndarray, s: np.ndarray, w: int) -> np.ndarray:
    """Window sums over the last axis from its cumulative sums ``c`` (leading zero): days s-w+1..s."""
    return c[..., s + 1] - c[..., np.maximum(s + 1 - w, 0)]


def _cum(x: np.ndarray) -> np.ndarray:
    out = np.zeros(x.shape[:-1] + (x.shape[-1] + 1,), dtype=np.float64)
    np.cumsum(x, axis=-1, out=out[..., 1:])
    return out


def _prank(part: np.ndarray, val: np.ndarray) -> np.ndarray:
    """percent_rank() OVER (PARTITION BY part ORDER BY val): (rank - 1) / (rows - 1), ties share
    the lowest rank, 0 for a single row."""
    n = len(part)
    out = np.zeros(n)
    if n == 0:
        return out
    o = np.lexsort((val, part))
    sp, sv = part[o], val[o]
    idx = np.arange(n)
    pnew = np.ones(n, dtype=bool)
    pnew[1:] = sp[1:] != sp[:-1]
    vnew = pnew.copy()
    vnew[1:] |= sv[1:] != sv[:-1]
    p0 = np.maximum.accumulate(np.where(pnew, idx, 0))
    r0 = np.maximum.accumulate(np.where(vnew, idx, 0))
    first = np.flatnonzero(pnew)
    size = np.diff(np.append(first, n))
    rows = np.repeat(size, size)
    out[o] = np.where(rows > 1, (r0 - p0) / np.maximum(rows - 1, 1), 0.0)
    return out


def _rolling(ven: _Venues, vd: pa.Table, hist: pa.Table, days: list[tuple[Any, ...]], a0: date, a1: date,
             min_sample: int) -> pa.Table:
    """venue_rolling for as_of in [a0, a1) (definitions: rolling.sql)."""
    first = a0 - timedelta(days=13)
    NS = (a1 - first).days                         # day slots; as_of a0 is slot 13
    NA = (a1 - a0).days
    base_d = int(np.datetime64(first, "D").astype(np.int64))
    present = np.zeros(NS, dtype=np.float64)
    partial = np.zeros(NS, dtype=np.float64)
    for d, p in days:
        present[(d - first).days] = 1
        partial[(d - first).days] = bool(p)
    vi = ven.resolve(vd)
    hv = ven.resolve(hist)
    NV = ven.n
    di = _np(vd.column("metric_date").cast(pa.date32())) - base_d
    pr = _np(vd.column("prime"))
    # venue x tb x day (party sizes summed), then 'all' (index 2) = both time buckets
    cell = (vi * 2 + pr) * NS + di
    meas = ("drops", "release_drops", "cancel_drops", "closed", "closed_timed", "censored",
            "sum_close_s", "observed_s", "fully_booked_s")
    M = {m: np.bincount(cell, weights=_np(vd.column(m), np.float64), minlength=NV * 2 * NS).reshape(NV, 2, NS)
         for m in meas}
    rows_ = np.bincount(cell, minlength=NV * 2 * NS).reshape(NV, 2, NS) > 0
    for m in meas:
        M[m] = np.concatenate([M[m], M[m].sum(axis=1, keepdims=True)], axis=1)
    pres = np.concatenate([rows_, rows_.any(axis=1, keepdims=True)], axis=1).astype(np.float64)
    dr = M["drops"]
    C = {m: _cum(M[m]) for m in meas}
    Cp, Cx2 = _cum(pres), _cum(pres * dr * dr)
    Cday, Cpart = _cum(present), _cum(partial)
    km = _rolling_km(ven, hv, hist, first, NS, NA)        # (NA, 2, 3, NV, 4)
    tb_names = _strings(["off_peak", "prime", "all"])
    cols: dict[str, list[np.ndarray]] = {}

    def add(k: str, x: np.ndarray) -> None:
        cols.setdefault(k, []).append(x)
    for j in range(NA):
        s = np.array(13 + j)
        for wi, w in enumerate(WINDOWS):
            n_rows = _wsum(Cp, s, w)
            v_idx, t_idx = np.nonzero(n_rows > 0)
            nr = n_rows[v_idx, t_idx]
            sums = {m: _wsum(C[m], s, w)[v_idx, t_idx] for m in meas}
            sx2 = _wsum(Cx2, s, w)[v_idx, t_idx]
            last7 = _wsum(C["drops"], s, 7)[v_idx, t_idx]
            dlast7 = _wsum(Cp, s, 7)[v_idx, t_idx]
            prev7 = (_wsum(C["drops"], s - 7, 7)[v_idx, t_idx] if w == 14 else np.zeros(len(v_idx)))
            dprev7 = (_wsum(Cp, s - 7, 7)[v_idx, t_idx] if w == 14 else np.zeros(len(v_idx)))
            add("v", v_idx)
            add("t", t_idx)
            add("as_of", np.full(len(v_idx), j))
            add("w", np.full(len(v_idx), wi))
            add("days_observed", np.full(len(v_idx), _wsum(Cday, s, w)))
            add("partial_days", np.full(len(v_idx), _wsum(Cpart, s, w)))
            for m in meas:
                add(m, sums[m])
            sx = sums["drops"]
            add("volatility", np.sqrt(np.maximum(nr * sx2 - sx * sx, 0.0)) / nr)
            add("mean_daily", sx / nr)
            add("drops_last7", last7)
            add("days_last7", dlast7)
            add("drops_prev7", prev7)
            add("days_prev7", dprev7)
            for q, name in enumerate(("km_median_s", "km_median_lo_s", "km_median_hi_s", "median_close_s")):
                add(name, km[j, wi, t_idx, v_idx, q])
    R = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    n = len(R["v"])
    v, t = R["v"].astype(np.int64), R["t"].astype(np.int64)
    a_i, w_i = R["as_of"].astype(np.int64), R["w"].astype(np.int64)
    dobs = R["days_observed"]
    with np.errstate(divide="ignore", invalid="ignore"):
        dpd = np.where(dobs > 0, R["drops"] / dobs, np.nan)
        share = np.where(R["observed_s"] != 0, R["fully_booked_s"] / R["observed_s"], np.nan)
        rate7 = np.where(R["days_last7"] > 0, R["drops_last7"] / R["days_last7"], np.nan)
        ratep = np.where(R["days_prev7"] > 0, R["drops_prev7"] / R["days_prev7"], np.nan)
        trend_pct = np.where(ratep != 0, (100.0 * (rate7 - ratep)) / ratep, np.nan)
        rel_ch = (rate7 - ratep) / ratep
        vcv = np.where(R["mean_daily"] != 0, R["volatility"] / R["mean_daily"], np.nan)
    n_km = R["closed_timed"] + R["censored"]
    thin = n_km < min_sample
    nan_r7, nan_rp = np.isnan(rate7), np.isnan(ratep)
    trend = np.where(nan_r7 | nan_rp, 0,
                     np.where(ratep == 0, np.where(rate7 > 0, 1, 0),
                              np.where(rel_ch >= 0.10, 1, np.where(rel_ch <= -0.10, 2, 0))))
    # scarcity: percent ranks among the non-thin rows of the same (as_of, window, time bucket)
    part = (a_i * 2 + w_i) * 3 + t
    ok = ~thin
    cb = np.full(n, np.nan)
    m1 = ok & ~np.isnan(share)
    cb[m1] = _prank(part[m1], share[m1])
    cr = np.full(n, np.nan)
    m2 = ok & ~np.isnan(dpd)
    cr[m2] = _prank(part[m2], -dpd[m2])
    cf = np.full(n, np.nan)
    kmm = R["km_median_s"]
    cf[ok] = _prank(part[ok], -np.where(np.isnan(kmm[ok]), np.inf, kmm[ok]))
    cnt = (~np.isnan(cb)).astype(np.int64) + (~np.isnan(cr)).astype(np.int64) + (~np.isnan(cf)).astype(np.int64)
    tot = (np.nan_to_num(cb) + np.nan_to_num(cr)) + np.nan_to_num(cf)
    score = np.where(ok & (cnt > 0), (100.0 * tot) / np.maximum(cnt, 1), np.nan)
    rank = np.zeros(n, dtype=np.int64)
    hs = np.flatnonzero(~np.isnan(score))
    if len(hs):
        o = np.lexsort((ven.vid[v[hs]], -score[hs], part[hs]))
        ps = part[hs][o]
        newp = np.ones(len(o), dtype=bool)
        newp[1:] = ps[1:] != ps[:-1]
        idx = np.arange(len(o))
        rank[hs[o]] = idx - np.maximum.accumulate(np.where(newp, idx, 0)) + 1
    as_of_d = np.datetime64(a0, "D") + a_i.astype("timedelta64[D]")
    win = np.array(WINDOWS, dtype=np.int16)[w_i]

    def i32(x: np.ndarray) -> pa.Array:
        return _pa(np.rint(x).astype(np.int32))

    def opt(x: np.ndarray) -> pa.Array:
        return _pa(np.nan_to_num(x), mask=np.isnan(x))
    vr = pa.table({
        "provider": _dict_col(ven.pc[v], _strings(ven.prov_names)), "venue_id": _pa(ven.vid[v].astype(np.int64)),
        "as_of": _pa(as_of_d), "window_days": _pa(win), "time_bucket": _dict_col(t, tb_names),
        "days_observed": i32(dobs), "partial_days": i32(R["partial_days"]), "drops": i32(R["drops"]),
        "drops_per_day": opt(dpd), "release_drops": i32(R["release_drops"]), "cancel_drops": i32(R["cancel_drops"]),
        "release_share": opt(np.where(R["drops"] != 0, R["release_drops"] / np.where(R["drops"] != 0, R["drops"], 1), np.nan)),
        "closed": i32(R["closed"]), "closed_timed": i32(R["closed_timed"]), "censored": i32(R["censored"]),
        "km_median_s": opt(kmm), "km_median_lo_s": opt(R["km_median_lo_s"]), "km_median_hi_s": opt(R["km_median_hi_s"]),
        "median_close_s": opt(R["median_close_s"]),
        "mean_close_s": opt(np.where(R["closed_timed"] != 0, R["sum_close_s"] / np.where(R["closed_timed"] != 0, R["closed_timed"], 1), np.nan)),
        "observed_s": _pa(R["observed_s"]), "fully_booked_s": _pa(R["fully_booked_s"]), "fully_booked_share": opt(share),
        "volatility": _pa(R["volatility"]), "volatility_cv": opt(vcv),
        "drops_last7": _pa(np.rint(R["drops_last7"]).astype(np.int32), mask=R["days_last7"] == 0),
        "drops_prev7": _pa(np.rint(R["drops_prev7"]).astype(np.int32), mask=R["days_prev7"] == 0),
        "trend_pct": opt(trend_pct), "trend": _dict_col(trend, _strings(["flat", "up", "down"])),
        "scarcity_score": opt(score), "scarcity_rank": _pa(rank.astype(np.int32), mask=rank == 0),
        "n": i32(n_km), "thin": _pa(thin)})
    return vr


def _rolling_party(ven: _Venues, vd: pa.Table, days: list[tuple[Any, ...]], a0: date, a1: date,
                   min_sample: int) -> pa.Table:
    """venue_rolling_party for as_of in [a0, a1): venue x tb x party x day, 'all' = both time buckets."""
    first = a0 - timedelta(days=13)
    NS = (a1 - first).days
    NA = (a1 - a0).days
    present = np.zeros(NS, dtype=np.float64)
    for d, _p in days:
        present[(d - first).days] = 1
    Cday = _cum(present)
    vi = ven.resolve(vd)
    NV = ven.n
    di = _np(vd.column("metric_date").cast(pa.date32())) - int(np.datetime64(first, "D").astype(np.int64))
    pr = _np(vd.column("prime"))
    party = _np(vd.column("party_size"))
    psizes = np.flatnonzero(np.bincount(party)) if len(party) else np.zeros(0, np.int64)
    NP = max(len(psizes), 1)
    plut = np.zeros(int(psizes.max()) + 1 if len(psizes) else 1, dtype=np.int64)
    plut[psizes] = np.arange(len(psizes))
    pi = plut[party]
    tb_names = _strings(["off_peak", "prime", "all"])

    def i32(x: np.ndarray) -> pa.Array:
        return _pa(np.rint(x).astype(np.int32))

    def opt(x: np.ndarray) -> pa.Array:
        return _pa(np.nan_to_num(x), mask=np.isnan(x))
    pcell = ((vi * 2 + pr) * NP + pi) * NS + di
    PM = {m: np.bincount(pcell, weights=_np(vd.column(m), np.float64), minlength=NV * 2 * NP * NS).reshape(NV, 2, NP, NS)
          for m in ("drops", "closed_timed", "sum_close_s")}
    prow = np.bincount(pcell, minlength=NV * 2 * NP * NS).reshape(NV, 2, NP, NS) > 0
    for m in PM:
        PM[m] = np.concatenate([PM[m], PM[m].sum(axis=1, keepdims=True)], axis=1)
    prow3 = np.concatenate([prow, prow.any(axis=1, keepdims=True)], axis=1).astype(np.float64)
    PC = {m: _cum(x) for m, x in PM.items()}
    PCr = _cum(prow3)
    pc: dict[str, list[np.ndarray]] = {}
    for j in range(NA):
        s = np.array(13 + j)
        for wi, w in enumerate(WINDOWS):
            nr = _wsum(PCr, s, w)
            vv, tt, pp = np.nonzero(nr > 0)
            drops = _wsum(PC["drops"], s, w)
            tot_d = drops.sum(axis=2)
            for k, x in (("v", vv), ("t", tt), ("p", pp), ("as_of", np.full(len(vv), j)), ("w", np.full(len(vv), wi)),
                         ("drops", drops[vv, tt, pp]), ("tot", tot_d[vv, tt]),
                         ("closed", _wsum(PC["closed_timed"], s, w)[vv, tt, pp]),
                         ("sum_close_s", _wsum(PC["sum_close_s"], s, w)[vv, tt, pp]),
                         ("days_observed", np.full(len(vv), _wsum(Cday, s, w)))):
                pc.setdefault(k, []).append(x)
    Q = {k: np.concatenate(x) if x else np.zeros(0) for k, x in pc.items()}
    qv, qt, qp = Q["v"].astype(np.int64), Q["t"].astype(np.int64), Q["p"].astype(np.int64)
    qa, qw = Q["as_of"].astype(np.int64), Q["w"].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q_dpd = np.where(Q["days_observed"] > 0, Q["drops"] / Q["days_observed"], np.nan)
        q_share = np.where(Q["tot"] != 0, Q["drops"] / Q["tot"], np.nan)
        q_mean = np.where(Q["closed"] != 0, Q["sum_close_s"] / Q["closed"], np.nan)
    vrp = pa.table({
        "provider": _dict_col(ven.pc[qv], _strings(ven.prov_names)), "venue_id": _pa(ven.vid[qv].astype(np.int64)),
        "as_of": _pa(np.datetime64(a0, "D") + qa.astype("timedelta64[D]")),
        "window_days": _pa(np.array(WINDOWS, dtype=np.int16)[qw]), "time_bucket": _dict_col(qt, tb_names),
        "party_size": _pa(psizes[qp].astype(np.int16)), "drops": i32(Q["drops"]), "drops_per_day": opt(q_dpd),
        "share_of_drops": opt(q_share), "closed": i32(Q["closed"]), "mean_close_s": opt(q_mean),
        "n": i32(Q["drops"]), "thin": _pa(Q["drops"] < min_sample)})
    return vrp


def _rolling_km(ven: _Venues, hv: np.ndarray, h: pa.Table, first: date, NS: int, NA: int) -> np.ndarray:
    """Kaplan-Meier medians per (as_of, window 7 | 14, venue, time bucket incl. 'all'): an
    (NA, 2, 3, NV, 4) array of km_median_s, km_median_lo_s, km_median_hi_s, median_close_s (NaN:
    not reached, or no histogram row in the window).

    The per-day histograms are read once (rolling_hist.sql); each window's merged histogram is a
    running sum (add the new day, drop the one leaving), as dense bins x groups matrices, and
    analytics.survival.km_binned_t runs on all groups of a window at once.
    """
    NV = ven.n
    out = np.full((NA, len(WINDOWS), 3, NV, 4), np.nan)
    if h.num_rows == 0:
        return out
    b = _np(h.column("bin"))
    used_bins = np.flatnonzero(np.bincount(b, minlength=142))
    edges = np.array([0.0] + [10 ** ((k - 1) / 20) for k in range(1, 142)]), np.array([10 ** (k / 20) for k in range(142)])
    lo, hi = edges[0][used_bins], edges[1][used_bins]
    nb = len(used_bins)
    bl = np.zeros(142, dtype=np.int64)
    bl[used_bins] = np.arange(nb)
    di = _np(h.column("metric_date").cast(pa.date32())) - int(np.datetime64(first, "D").astype(np.int64))
    flat = (bl[b] * 2 + _np(h.column("prime"))) * NV + hv
    dv = _np(h.column("d"), np.float64)
    cv = _np(h.column("c"), np.float64)
    order = np.argsort(di, kind="stable")
    di, flat, dv, cv = di[order], flat[order], dv[order], cv[order]
    bounds = np.searchsorted(di, np.arange(NS + 1))
    size = NV * 2 * nb

    def day(i: int) -> tuple[np.ndarray, np.ndarray] | None:
        if i < 0 or bounds[i] == bounds[i + 1]:
            return None
        sl = slice(bounds[i], bounds[i + 1])
        return (np.bincount(flat[sl], weights=dv[sl], minlength=size).reshape(nb, 2, NV),
                np.bincount(flat[sl], weights=cv[sl], minlength=size).reshape(nb, 2, NV))
    runs = {w: (np.zeros((nb, 2, NV)), np.zeros((nb, 2, NV))) for w in WINDOWS}
    days: dict[int, tuple[np.ndarray, np.ndarray] | None] = {}      # the last 15 days only (memory)
    for i in range(NS):
        days[i] = day(i)
        days.pop(i - max(WINDOWS) - 1, None)
        for w in WINDOWS:
            rd, rc = runs[w]
            new = days[i]
            if new is not None:
                rd += new[0]
                rc += new[1]
            old = days.get(i - w)
            if old is not None:
                rd -= old[0]
                rc -= old[1]
            if i < 13:
                continue
            d3 = np.concatenate([rd, rd.sum(axis=1, keepdims=True)], axis=1).reshape(nb, 3 * NV)
            c3 = np.concatenate([rc, rc.sum(axis=1, keepdims=True)], axis=1).reshape(nb, 3 * NV)
            present = np.flatnonzero((d3.sum(axis=0) + c3.sum(axis=0)) > 0)
            r = km_binned_t(d3[:, present], c3[:, present], lo, hi)
            o = out[i - 13, WINDOWS.index(w)].reshape(3 * NV, 4)
            for q, k in enumerate(("km_median_s", "km_median_lo_s", "km_median_hi_s", "median_close_s")):
                o[present, q] = r[k]
    return out


def aggregated_days(con: duckdb.DuckDBPyConnection) -> set[date]:
    return {r[0] for r in con.execute("SELECT metric_date FROM day_quality").fetchall()}


def days_pending_prune(con: duckdb.DuckDBPyConnection, cutoff: date, tz: str) -> list[date]:
    """Local observation days of the raw events about to be pruned (bucket_date < cutoff) that have
    no aggregates yet. Bounded: only the events before the cutoff are read."""
    rows = run(con, "prune_pending_days", cutoff=cutoff).fetchall()
    return [r[0] for r in rows]


def prune_raw(con: duckdb.DuckDBPyConnection, cutoff: date) -> int:
    """Delete raw availability_events with bucket_date < cutoff whose observation day is aggregated.

    Events of a day without aggregates stay (the caller aggregates first; see run_nightly)."""
    return int(run(con, "prune_raw", cutoff=cutoff).fetchone()[0])  # type: ignore[index]


def data_days(con: duckdb.DuckDBPyConnection, tz: str) -> tuple[date, date] | None:
    """First and last local day with any poll (what recompute rebuilds)."""
    row = run(con, "data_days", tz=tz).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def recompute(con: duckdb.DuckDBPyConnection, *, tz: str, min_sample: int, today: date,
              prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS, max_gap_s: float = DEFAULT_MAX_GAP_S,
              progress: Progress | None = None, chunk_days: int = 2,
              guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """Rebuild every metric table from slot_intervals + poll_ledger (kept forever).

    Days from the first poll to yesterday (``today`` - 1) are rebuilt in chunks of ``chunk_days``
    (one read of polls and intervals each; small chunks keep the peak memory low and were also
    the fastest on the 10M-event bench window), then the rolling tables for every day. Rows for days outside that span are
    deleted, so the result equals running the nightly job for each day in turn.
    """
    span = data_days(con, tz)
    for t in (*DAILY_TABLES, *ROLLING_TABLES):
        con.execute("DELETE FROM " + _ident(t, (*DAILY_TABLES, *ROLLING_TABLES)))  # noqa: S608 - allow-listed
    out: dict[str, Any] = {"days": 0, "rows": 0}
    if span is None:
        return out
    first, last = span[0], min(span[1], today - timedelta(days=1))
    if last < first:
        return out
    total = (last - first).days + 1
    steps = -(-total // chunk_days) + 1
    d, i = first, 0
    while d <= last:
        e = min(last, d + timedelta(days=chunk_days - 1))
        r = aggregate_range(con, d, e, tz=tz, min_sample=min_sample, today=today,
                            prime_slots=prime_slots, max_gap_s=max_gap_s, guard_minutes=guard_minutes)
        out["rows"] += sum(v for k, v in r.items() if k in DAILY_TABLES)
        _release_memory()
        i += 1
        if progress:
            progress(i, steps, f"daily {d}..{e}")
        d = e + timedelta(days=1)
    r2 = refresh_rolling(con, first, min_sample=min_sample, until=last)
    out["rows"] += sum(r2.values())
    if progress:
        progress(steps, steps, f"rolling {first}..{last}")
    out.update(days=total, first=first, last=last)
    return out
